//! mt-aws-glacier's archive description metadata (`mt2`, and `mt1` read).
//!
//! `mt2 ` + base64url (no padding) of the UTF-8 JSON object
//! `{"filename":NAME,"mtime":"YYYYMMDDTHHMMSSZ"}`. `mt1` is the same with
//! the JSON's UTF-8 bytes encoded to UTF-8 once more (as if they were
//! Latin-1). Glacier limits a description to 1024 printable ASCII
//! characters.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::names::RelName;

/// The longest description Glacier accepts, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 1024;

/// The name and modification time mt-aws-glacier stores in a description.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArchiveMeta {
    /// The file's relative name.
    pub relname: RelName,
    /// Its modification time, epoch seconds.
    pub mtime: i64,
}

/// A decoded archive description.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Description {
    /// Written by mt-aws-glacier 0.85 or later, or by us.
    Mt2(ArchiveMeta),
    /// Written by mt-aws-glacier 0.80 to 0.84 (double-encoded JSON).
    Mt1(ArchiveMeta),
    /// Anything else: not ours, malformed, or naming an invalid relative
    /// name. Such archives are imported under their archive id.
    Unknown,
}

impl Description {
    /// The metadata, if the description is ours.
    pub fn meta(&self) -> Option<&ArchiveMeta> {
        match self {
            Description::Mt2(m) | Description::Mt1(m) => Some(m),
            Description::Unknown => None,
        }
    }
}

/// Why a description cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptionError {
    /// The description would be longer than Glacier allows.
    #[error(
        "the description for {relname:?} would be {len} characters, more than the {max} Glacier allows (shorten the name)"
    )]
    TooLong {
        /// The name.
        relname: RelName,
        /// The description's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The modification time is outside years 0000 to 9999.
    #[error(
        "mtime {mtime} of {relname:?} is outside the years 0000 to 9999 the description can hold"
    )]
    MtimeOutOfRange {
        /// The name.
        relname: RelName,
        /// The time.
        mtime: i64,
    },
}

const B64_ENCODE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false),
);

const B64_DECODE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Encodes `meta` as an `mt2` description.
///
/// ```
/// use journal::{ArchiveMeta, Description, RelName, decode_description, encode_description};
///
/// let meta = ArchiveMeta { relname: RelName::new("dir/ü.txt")?, mtime: 1_355_657_400 };
/// let d = encode_description(&meta)?;
/// assert!(d.starts_with("mt2 "));
/// assert_eq!(decode_description(&d), Description::Mt2(meta));
/// assert_eq!(decode_description("some other tool"), Description::Unknown);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_description(meta: &ArchiveMeta) -> Result<String, DescriptionError> {
    let Some(mtime) = crate::time::format_iso8601(meta.mtime) else {
        return Err(DescriptionError::MtimeOutOfRange {
            relname: meta.relname.clone(),
            mtime: meta.mtime,
        });
    };
    let mut json = String::with_capacity(meta.relname.len() + 48);
    json.push_str("{\"filename\":");
    json.push_str(&serde_json::Value::from(meta.relname.as_str()).to_string());
    json.push_str(",\"mtime\":\"");
    json.push_str(&mtime);
    json.push_str("\"}");
    let out = format!("mt2 {}", B64_ENCODE.encode(json.as_bytes()));
    if out.len() > MAX_DESCRIPTION_LEN {
        return Err(DescriptionError::TooLong {
            relname: meta.relname.clone(),
            len: out.len(),
            max: MAX_DESCRIPTION_LEN,
        });
    }
    Ok(out)
}

/// Decodes an archive description; anything not ours is
/// [`Description::Unknown`]. Never fails and never panics.
///
/// As mt-aws-glacier does: the description is split on whitespace, the first
/// word picks `mt1`/`mt2`, the second is base64url (padding optional); the
/// JSON is one level deep, at most 1024 bytes, with string `filename` and
/// `mtime`. The time is read leniently (`YYYYMMDDTHHMMSSZ`, optional
/// separators and fraction, second 60 read as 59). Descriptions longer than
/// Glacier's 1024 characters are not ours.
pub fn decode_description(description: &str) -> Description {
    if description.len() > MAX_DESCRIPTION_LEN {
        return Description::Unknown;
    }
    let mut words = description.split_whitespace();
    let (Some(marker), Some(b64)) = (words.next(), words.next()) else {
        return Description::Unknown;
    };
    let mt1 = match marker {
        "mt1" => true,
        "mt2" => false,
        _ => return Description::Unknown,
    };
    // mt-aws-glacier maps '-' and '_' to '+' and '/' and decodes standard
    // base64, so both alphabets are accepted.
    let b64: String = b64
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let Ok(mut bytes) = B64_DECODE.decode(b64.as_bytes()) else {
        return Description::Unknown;
    };
    if mt1 {
        // Undo the extra encoding: every character must be Latin-1.
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Description::Unknown;
        };
        let Ok(latin1) = text
            .chars()
            .map(|c| u8::try_from(u32::from(c)))
            .collect::<Result<Vec<u8>, _>>()
        else {
            return Description::Unknown;
        };
        bytes = latin1;
    }
    match decode_json(&bytes) {
        Some(meta) if mt1 => Description::Mt1(meta),
        Some(meta) => Description::Mt2(meta),
        None => Description::Unknown,
    }
}

fn decode_json(bytes: &[u8]) -> Option<ArchiveMeta> {
    if bytes.len() > MAX_DESCRIPTION_LEN {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let object = value.as_object()?;
    // One level deep: no nested arrays or objects.
    if object.values().any(|v| v.is_array() || v.is_object()) {
        return None;
    }
    let filename = object.get("filename")?.as_str()?;
    let mtime = crate::time::parse_iso8601(object.get("mtime")?.as_str()?)?;
    let relname = RelName::new(filename).ok()?;
    Some(ArchiveMeta { relname, mtime })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, mtime: i64) -> ArchiveMeta {
        ArchiveMeta {
            relname: RelName::new(name).unwrap(),
            mtime,
        }
    }

    #[test]
    fn mt2_known_form() {
        // {"filename":"a","mtime":"20121216T110000Z"}
        let d = encode_description(&meta("a", 1_355_655_600)).unwrap();
        let json = B64_DECODE.decode(&d.as_bytes()[4..]).unwrap();
        assert_eq!(
            std::str::from_utf8(&json).unwrap(),
            r#"{"filename":"a","mtime":"20121216T110000Z"}"#
        );
        assert!(!d.contains('='));
    }

    #[test]
    fn mt1_double_encoded() {
        let json = r#"{"mtime":"20121216T110000Z","filename":"é"}"#;
        // Latin-1 read as UTF-8: each byte becomes a character.
        let double: String = json.bytes().map(char::from).collect();
        let d = format!("mt1 {}", B64_ENCODE.encode(double.as_bytes()));
        assert_eq!(
            decode_description(&d),
            Description::Mt1(meta("é", 1_355_655_600))
        );
    }

    #[test]
    fn lenient_decoding() {
        let json = r#"{"filename":"x/y","mtime":"2012-12-16 T 11:00:60.5z","other":12}"#;
        let padded = base64::engine::general_purpose::URL_SAFE.encode(json);
        assert!(padded.ends_with('='));
        assert_eq!(
            decode_description(&format!("  mt2\t{padded} trailing")),
            Description::Mt2(meta("x/y", 1_355_655_659))
        );
    }

    #[test]
    fn not_ours() {
        for d in [
            "",
            "mt2",
            "mt3 abc",
            "mt2 !!!",
            "hello world",
            "mt2 e30",                                    // {}
            "mt2 eyJmaWxlbmFtZSI6WzFdLCJtdGltZSI6IngifQ", // nested
        ] {
            assert_eq!(decode_description(d), Description::Unknown, "{d:?}");
        }
        let bad_name = format!(
            "mt2 {}",
            B64_ENCODE.encode(r#"{"filename":"/abs","mtime":"20121216T110000Z"}"#)
        );
        assert_eq!(decode_description(&bad_name), Description::Unknown);
    }

    #[test]
    fn length_limit() {
        let long = "a".repeat(724);
        assert!(matches!(
            encode_description(&meta(&long, 0)),
            Err(DescriptionError::TooLong { .. })
        ));
        let ok = "a".repeat(723);
        assert!(encode_description(&meta(&ok, 0)).unwrap().len() <= 1024);
        assert!(matches!(
            encode_description(&meta("a", i64::MAX)),
            Err(DescriptionError::MtimeOutOfRange { .. })
        ));
    }
}
