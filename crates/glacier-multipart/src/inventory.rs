//! Vault inventories in AWS's JSON and CSV forms.

use std::fmt::Write as _;
use std::time::SystemTime;

use glacier_treehash::TreeHash;
use serde::{Deserialize, Serialize};

use crate::serde_util::{format_time, parse_time};
use crate::store::{ArchiveInfo, InventoryFormat};

/// A vault inventory: what an inventory-retrieval job returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The vault's ARN (or, for local stores, a made-up one).
    pub vault_arn: String,
    /// When the inventory was taken.
    pub inventory_date: SystemTime,
    /// The archives.
    pub archives: Vec<ArchiveInfo>,
}

/// An inventory could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad inventory at line {line}: {reason}")]
pub struct InventoryParseError {
    /// 1-based line (1 for JSON errors without a line).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JsonInventory {
    #[serde(rename = "VaultARN")]
    vault_arn: String,
    inventory_date: String,
    archive_list: Vec<JsonArchive>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JsonArchive {
    archive_id: String,
    archive_description: String,
    creation_date: String,
    size: u64,
    #[serde(rename = "SHA256TreeHash")]
    sha256_tree_hash: String,
}

const CSV_HEADER: &str = "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash";

impl Inventory {
    /// The inventory in `format`.
    pub fn to_bytes(&self, format: InventoryFormat) -> Vec<u8> {
        match format {
            InventoryFormat::Json => self.to_json().into_bytes(),
            InventoryFormat::Csv => self.to_csv().into_bytes(),
        }
    }

    /// AWS's JSON form.
    #[allow(clippy::missing_panics_doc)] // serializing strings and numbers cannot fail
    pub fn to_json(&self) -> String {
        let inv = JsonInventory {
            vault_arn: self.vault_arn.clone(),
            inventory_date: format_time(self.inventory_date),
            archive_list: self
                .archives
                .iter()
                .map(|a| JsonArchive {
                    archive_id: a.archive_id.clone(),
                    archive_description: a.description.clone(),
                    creation_date: format_time(a.created),
                    size: a.size,
                    sha256_tree_hash: a.tree_hash.to_hex(),
                })
                .collect(),
        };
        serde_json::to_string(&inv).expect("an inventory of strings and numbers always serializes")
    }

    /// AWS's CSV form: a header line, then one line per archive, the
    /// description in double quotes (a quote inside doubled).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(CSV_HEADER);
        out.push('\n');
        for a in &self.archives {
            let _ = writeln!(
                out,
                "{},\"{}\",{},{},{}",
                a.archive_id,
                a.description.replace('"', "\"\""),
                format_time(a.created),
                a.size,
                a.tree_hash
            );
        }
        out
    }

    /// Reads either form (JSON if it starts with `{`).
    pub fn parse(bytes: &[u8]) -> Result<Inventory, InventoryParseError> {
        let text = std::str::from_utf8(bytes).map_err(|e| InventoryParseError {
            line: 1,
            reason: format!("not UTF-8: {e}"),
        })?;
        if text.trim_start().starts_with('{') {
            Self::parse_json(text)
        } else {
            Self::parse_csv(text)
        }
    }

    fn parse_json(text: &str) -> Result<Inventory, InventoryParseError> {
        let inv: JsonInventory = serde_json::from_str(text).map_err(|e| InventoryParseError {
            line: e.line(),
            reason: e.to_string(),
        })?;
        let date = |s: &str| {
            parse_time(s).ok_or_else(|| InventoryParseError {
                line: 1,
                reason: format!("bad date {s:?}"),
            })
        };
        let archives = inv
            .archive_list
            .into_iter()
            .map(|a| {
                Ok(ArchiveInfo {
                    tree_hash: TreeHash::from_hex(&a.sha256_tree_hash).map_err(|e| {
                        InventoryParseError {
                            line: 1,
                            reason: format!("archive {}: {e}", a.archive_id),
                        }
                    })?,
                    created: date(&a.creation_date)?,
                    archive_id: a.archive_id,
                    size: a.size,
                    description: a.archive_description,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Inventory {
            vault_arn: inv.vault_arn,
            inventory_date: date(&inv.inventory_date)?,
            archives,
        })
    }

    fn parse_csv(text: &str) -> Result<Inventory, InventoryParseError> {
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, h)) if h.trim_end_matches('\r') == CSV_HEADER => {}
            _ => {
                return Err(InventoryParseError {
                    line: 1,
                    reason: format!("the first line is not {CSV_HEADER:?}"),
                });
            }
        }
        let mut archives = Vec::new();
        for (i, line) in lines {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let err = |reason: String| InventoryParseError {
                line: i + 1,
                reason,
            };
            let fields = split_csv(line).ok_or_else(|| err("unbalanced quotes".into()))?;
            let [id, desc, date, size, hash] = <[String; 5]>::try_from(fields)
                .map_err(|f| err(format!("{} fields instead of 5", f.len())))?;
            archives.push(ArchiveInfo {
                created: parse_time(&date).ok_or_else(|| err(format!("bad date {date:?}")))?,
                size: size
                    .parse()
                    .map_err(|_| err(format!("bad size {size:?}")))?,
                tree_hash: TreeHash::from_hex(&hash).map_err(|e| err(e.to_string()))?,
                archive_id: id,
                description: desc,
            });
        }
        Ok(Inventory {
            vault_arn: String::new(),
            inventory_date: SystemTime::UNIX_EPOCH,
            archives,
        })
    }
}

/// Splits one CSV line; quoted fields may hold commas, `""` and `\"`.
fn split_csv(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' | '\\' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cur.push('"');
                }
                '"' => quoted = false,
                c => cur.push(c),
            }
        } else {
            match c {
                '"' if cur.is_empty() && !was_quoted => {
                    quoted = true;
                    was_quoted = true;
                }
                ',' => {
                    fields.push(std::mem::take(&mut cur));
                    was_quoted = false;
                }
                c => cur.push(c),
            }
        }
    }
    if quoted {
        return None;
    }
    fields.push(cur);
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn both_forms_round_trip() {
        let inv = Inventory {
            vault_arn: "arn:aws:glacier:local:000000000000:vaults/v".into(),
            inventory_date: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            archives: vec![ArchiveInfo {
                archive_id: "abc-_".into(),
                size: 42,
                tree_hash: glacier_treehash::tree_hash(b"x"),
                description: "mt2 a, \"quoted\" b".into(),
                created: UNIX_EPOCH + Duration::from_millis(1_600_000_000_123),
            }],
        };
        let back = Inventory::parse(inv.to_json().as_bytes()).unwrap();
        assert_eq!(back, inv);
        let back = Inventory::parse(inv.to_csv().as_bytes()).unwrap();
        assert_eq!(back.archives, inv.archives);
        assert!(inv.to_json().contains("\"SHA256TreeHash\""));
        assert!(inv.to_csv().starts_with(CSV_HEADER));
        let err = Inventory::parse(
            b"ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\na,\"b,c\n",
        )
        .unwrap_err();
        assert_eq!(err.line, 2);
    }
}
