//! The tape label: tape file 0, one block holding a small tar archive with
//! one member, `PERMAFROST-LABEL.txt`, so that `tar -t` on file 0 shows it.
//!
//! The text is `key=value` lines: `permafrost-tape-label=1`, `name`,
//! `serial`, `created` (RFC 3339, UTC) and `tool`. [`prepare_for_write`]
//! checks it before every write and writes it on a blank tape.

use crate::device::TapeDevice;
use crate::error::TapeError;
use crate::target::{format_time, tar_member};

/// Name of the tar member holding the label.
pub const LABEL_MEMBER: &str = "PERMAFROST-LABEL.txt";
const MAGIC: &str = "permafrost-tape-label=1";

/// What a tape says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The tape's name in the catalogue.
    pub name: String,
    /// Serial number or barcode; may be empty.
    pub serial: String,
    /// When the label was written, seconds since the Unix epoch.
    pub created: u64,
    /// The program that wrote it.
    pub tool: String,
}

/// What is at the beginning of a tape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelState {
    /// Nothing: a new or erased tape.
    Blank,
    /// Our label.
    Labelled(Label),
    /// Data that is not our label: never overwrite it.
    Foreign,
}

/// A label problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabelError {
    #[error(transparent)]
    Tape(#[from] TapeError),
    /// The tape carries a different label.
    #[error(
        "{device}: the tape is labelled '{found}' (serial '{serial}'), not '{expected}': refusing to write"
    )]
    WrongTape {
        device: String,
        expected: String,
        found: String,
        serial: String,
    },
    /// The tape holds data without our label.
    #[error("{device}: the tape holds data but no Permafrost label: refusing to write to it")]
    Foreign { device: String },
    /// A name or serial that cannot be stored.
    #[error("invalid label field {field}: {value:?} (no newlines, 1-128 bytes for the name)")]
    InvalidField { field: &'static str, value: String },
}

impl Label {
    /// A label created now by this crate.
    pub fn new(name: &str, serial: &str) -> Result<Self, LabelError> {
        if name.is_empty() || name.len() > 128 || name.contains(['\n', '\r', '=']) {
            return Err(LabelError::InvalidField {
                field: "name",
                value: name.into(),
            });
        }
        if serial.contains(['\n', '\r']) {
            return Err(LabelError::InvalidField {
                field: "serial",
                value: serial.into(),
            });
        }
        Ok(Self {
            name: name.into(),
            serial: serial.into(),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            tool: concat!("tape-io ", env!("CARGO_PKG_VERSION")).into(),
        })
    }

    /// The label's text.
    pub fn to_text(&self) -> String {
        format!(
            "{MAGIC}\nname={}\nserial={}\ncreated={}\ntool={}\n",
            self.name,
            self.serial,
            format_time(self.created),
            self.tool
        )
    }

    /// The block written as tape file 0: a tar archive of one member.
    pub fn to_block(&self) -> Vec<u8> {
        let mut b = tar_member(
            LABEL_MEMBER.as_bytes(),
            self.to_text().as_bytes(),
            self.created,
            0,
        );
        b.extend_from_slice(&[0u8; 1024]);
        b
    }

    /// Parses a label block; `None` when it is not ours.
    pub fn from_block(block: &[u8]) -> Option<Self> {
        if block.len() < 1024 || !block.starts_with(LABEL_MEMBER.as_bytes()) {
            return None;
        }
        let size = crate::target::parse_octal(&block[124..136])? as usize;
        let text = std::str::from_utf8(block.get(512..512 + size)?).ok()?;
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut l = Label {
            name: String::new(),
            serial: String::new(),
            created: 0,
            tool: String::new(),
        };
        for line in lines {
            let (k, v) = line.split_once('=')?;
            match k {
                "name" => l.name = v.into(),
                "serial" => l.serial = v.into(),
                "created" => l.created = crate::target::parse_time(v).unwrap_or(0),
                "tool" => l.tool = v.into(),
                _ => {}
            }
        }
        (!l.name.is_empty()).then_some(l)
    }
}

/// Reads the label: rewinds and reads the first block.
pub fn read_label(dev: &mut dyn TapeDevice) -> Result<LabelState, TapeError> {
    dev.rewind()?;
    let mut buf = vec![0u8; 1 << 24];
    let state = match dev.read_block(&mut buf) {
        Ok(0) | Err(TapeError::EndOfData { .. }) => {
            // A filemark at BOT with nothing after it is blank too.
            LabelState::Blank
        }
        Ok(n) => Label::from_block(&buf[..n]).map_or(LabelState::Foreign, LabelState::Labelled),
        Err(TapeError::BufferTooSmall { .. } | TapeError::BadRecord { .. }) => LabelState::Foreign,
        Err(e) => return Err(e),
    };
    if state == LabelState::Blank {
        dev.rewind()?;
        // Anything beyond a leading filemark is data.
        if let Ok(0) = dev.read_block(&mut buf)
            && let Ok(n) = dev.read_block(&mut buf)
            && n > 0
        {
            return Ok(LabelState::Foreign);
        }
    }
    Ok(state)
}

/// Writes `label` as file 0 (truncating the tape after it). Callers use
/// [`prepare_for_write`], which refuses to overwrite a labelled tape.
pub fn write_label(dev: &mut dyn TapeDevice, label: &Label) -> Result<(), TapeError> {
    dev.rewind()?;
    dev.write_block(&label.to_block())?;
    dev.write_filemarks(1, true)
}

/// Checks the tape before a write: a blank tape gets `label`; a tape with
/// the same label name is accepted (its label is returned); a different
/// label or foreign data is refused. The head is left at the beginning.
pub fn prepare_for_write(dev: &mut dyn TapeDevice, label: &Label) -> Result<Label, LabelError> {
    match read_label(dev)? {
        LabelState::Blank => {
            write_label(dev, label)?;
            dev.rewind()?;
            Ok(label.clone())
        }
        LabelState::Labelled(found) if found.name == label.name => {
            dev.rewind()?;
            Ok(found)
        }
        LabelState::Labelled(found) => Err(LabelError::WrongTape {
            device: dev.name().into(),
            expected: label.name.clone(),
            found: found.name,
            serial: found.serial,
        }),
        LabelState::Foreign => Err(LabelError::Foreign {
            device: dev.name().into(),
        }),
    }
}

/// Checks that the tape carries the label `name` (before reading).
pub fn expect_label(dev: &mut dyn TapeDevice, name: &str) -> Result<Label, LabelError> {
    match read_label(dev)? {
        LabelState::Labelled(found) if found.name == name => Ok(found),
        LabelState::Labelled(found) => Err(LabelError::WrongTape {
            device: dev.name().into(),
            expected: name.into(),
            found: found.name,
            serial: found.serial,
        }),
        _ => Err(LabelError::Foreign {
            device: dev.name().into(),
        }),
    }
}
