//! Reading a context from a file or standard input, with errors worded for the command line.

use distsys_advisor::{parse_context, DistributedContext, Format, InputError};
use std::io::Read;

/// Why a context could not be loaded.
pub enum LoadError {
    /// The file or stream could not be read.
    Io(String),
    /// The text was read but is not a valid context.
    Input(InputError),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(message) => f.write_str(message),
            LoadError::Input(error) => write!(f, "{error}"),
        }
    }
}

/// Maximum context size accepted, in bytes: a context is a few hundred bytes.
const MAX_INPUT_BYTES: u64 = 1 << 20;

/// Reads and validates a context from `file` (`-` is standard input).
pub fn load_context(file: &str, stdin: &mut dyn Read) -> Result<DistributedContext, LoadError> {
    let (text, format) = read_text(file, stdin)?;
    parse_context(&text, format).map_err(LoadError::Input)
}

/// Reads the whole input as UTF-8 text, with the format implied by the file name if any.
pub fn read_text(file: &str, stdin: &mut dyn Read) -> Result<(String, Option<Format>), LoadError> {
    let text = read_limited(file, stdin, MAX_INPUT_BYTES)?;
    let format = if file == "-" {
        None
    } else {
        Format::from_path(file)
    };
    Ok((text, format))
}

/// Reads a whole file (`-`: standard input) as UTF-8 text of at most `max_bytes`.
pub fn read_limited(file: &str, stdin: &mut dyn Read, max_bytes: u64) -> Result<String, LoadError> {
    let mut bytes = Vec::new();
    let (source, result) = if file == "-" {
        (
            "standard input".to_string(),
            stdin.take(max_bytes + 1).read_to_end(&mut bytes),
        )
    } else {
        let result =
            std::fs::File::open(file).and_then(|f| f.take(max_bytes + 1).read_to_end(&mut bytes));
        (file.to_string(), result)
    };
    result.map_err(|e| LoadError::Io(format!("cannot read {source}: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(LoadError::Io(format!(
            "{source} is larger than {max_bytes} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|e| LoadError::Io(format!("{source} is not UTF-8 text: {e}")))
}
