//! Vault inventories (AWS's JSON and CSV forms) come from the network: any
//! bytes must give an inventory or an error, never a panic, and what parses
//! must come back the same through our JSON writer (dates aside: we write
//! milliseconds).
#![no_main]

use glacier_multipart::{Inventory, InventoryFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(inv) = Inventory::parse(data) {
        let back = Inventory::parse(&inv.to_bytes(InventoryFormat::Json)).expect("our JSON parses");
        let key = |i: &Inventory| {
            i.archives
                .iter()
                .map(|a| (a.archive_id.clone(), a.description.clone(), a.size, a.tree_hash))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&back), key(&inv));
        let _ = Inventory::parse(&inv.to_bytes(InventoryFormat::Csv));
    }
});
