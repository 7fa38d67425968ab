//! Table files: the format a name asks for, and files that appear whole or not at all.

use std::path::Path;

use crate::Columns;

/// The output format of a table file, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// `*.csv`
    Csv,
    /// `*.parquet`
    Parquet,
}

impl FileFormat {
    /// The format a path's extension names, if any.
    pub fn of(path: &Path) -> Option<FileFormat> {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Some(FileFormat::Csv),
            Some(e) if e.eq_ignore_ascii_case("parquet") => Some(FileFormat::Parquet),
            _ => None,
        }
    }
}

impl Columns {
    /// Writes the table to `path` as CSV or Parquet.
    ///
    /// The file appears whole or not at all: it is written beside the target and renamed
    /// over it (a resumable run rewrites its partial result after every batch).
    pub fn write_file(&self, path: &Path, format: FileFormat) -> std::io::Result<()> {
        write_atomically(path, |file| match format {
            FileFormat::Csv => self.write_csv(std::io::BufWriter::with_capacity(1 << 20, file)),
            FileFormat::Parquet => {
                let w = self
                    .write_parquet(std::io::BufWriter::new(file))
                    .map_err(std::io::Error::other)?;
                w.into_inner().map_err(|e| e.into_error())?.sync_all()
            }
        })
    }
}

/// Writes `path` through `write` (given the file), whole or not at all: into a file
/// beside it, renamed over it once written.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    write(std::fs::File::create(&tmp)?)?;
    std::fs::rename(&tmp, path)
}
