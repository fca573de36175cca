//! The owner and ACLs of a catalog row as a tool shows them: JSON fields
//! and indented text lines (where-is, find --json, acl show).
//!
//! ```
//! use catalog::FileEntry;
//!
//! let row = FileEntry { owner: Some("alice".into()), gid: Some(100), ..FileEntry::default() };
//! assert_eq!(archive_acls::display::access_lines(&row), ["  owner alice group 100"]);
//! assert_eq!(archive_acls::display::access_json(&row)["group"], 100);
//! ```

use catalog::FileEntry;
use serde_json::{Value, json};

/// The owner, group and ACLs of a catalog row, readable: `owner` and
/// `group` (names, else numbers), and `acls` (format, owner, group, entry
/// texts).
pub fn access_json(f: &FileEntry) -> Value {
    let who = |name: &Option<String>, num: Option<u32>| match (name, num) {
        (Some(n), _) => json!(n),
        (None, Some(n)) => json!(n),
        (None, None) => Value::Null,
    };
    json!({
        "owner": who(&f.owner, f.uid),
        "group": who(&f.group, f.gid),
        "acls": f.acls.iter().map(|a| json!({
            "format": a.format,
            "owner": a.owner_name.as_ref().or(a.owner.as_ref()),
            "group": a.group_name.as_ref().or(a.group.as_ref()),
            "entries": a.entries.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The lines a tool prints under a file version: owner and group, then
/// each ACL's owner, group and entries, indented by two spaces.
pub fn access_lines(f: &FileEntry) -> Vec<String> {
    let name = |n: &Option<String>, num: Option<u32>| {
        n.clone()
            .or_else(|| num.map(|u| u.to_string()))
            .unwrap_or_else(|| "?".into())
    };
    let mut out = vec![format!(
        "  owner {} group {}",
        name(&f.owner, f.uid),
        name(&f.group, f.gid)
    )];
    for a in &f.acls {
        if let Some(o) = a.owner_name.as_ref().or(a.owner.as_ref()) {
            out.push(format!("  {} OWNER {o}", a.format));
        }
        if let Some(g) = a.group_name.as_ref().or(a.group.as_ref()) {
            out.push(format!("  {} GROUP {g}", a.format));
        }
        for e in &a.entries {
            out.push(format!("  {} {}", a.format, e.text));
        }
    }
    out
}
