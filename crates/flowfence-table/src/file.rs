//! Table files: the format a name asks for, and files that appear whole or not at all.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{Columns, ParquetWriter};

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
        let mut file = TableFile::create(path, format)?;
        file.write(self)?;
        file.finish()
    }
}

/// A table file written a chunk of rows at a time (each chunk with the same columns),
/// so a long table never sits in memory whole; the same bytes as [`Columns::write_file`]
/// of all the rows at once. It appears whole or not at all: it is written beside its
/// path and renamed over it by [`TableFile::finish`].
pub struct TableFile {
    path: PathBuf,
    tmp: PathBuf,
    out: Output,
}

enum Output {
    /// The header is written with the first chunk.
    Csv {
        out: BufWriter<File>,
        header: bool,
    },
    Parquet(Box<ParquetWriter<BufWriter<File>>>),
}

impl TableFile {
    /// Starts the file for `path`.
    pub fn create(path: &Path, format: FileFormat) -> std::io::Result<TableFile> {
        let tmp = beside(path);
        let file = File::create(&tmp)?;
        let out = match format {
            FileFormat::Csv => Output::Csv {
                out: BufWriter::with_capacity(1 << 20, file),
                header: false,
            },
            FileFormat::Parquet => {
                Output::Parquet(Box::new(ParquetWriter::new(BufWriter::new(file))))
            }
        };
        Ok(TableFile {
            path: path.to_path_buf(),
            tmp,
            out,
        })
    }

    /// Appends a chunk's rows.
    pub fn write(&mut self, chunk: &Columns) -> std::io::Result<()> {
        match &mut self.out {
            Output::Csv { out, header } => {
                if !*header {
                    chunk.write_csv_header(&mut *out)?;
                    *header = true;
                }
                chunk.write_csv_rows(out)
            }
            Output::Parquet(w) => w.write(chunk).map_err(std::io::Error::other),
        }
    }

    /// Finishes the file (at least one chunk must be written, even an empty one: it gives
    /// the columns) and renames it into place.
    pub fn finish(self) -> std::io::Result<()> {
        match self.out {
            Output::Csv { mut out, .. } => out.flush()?,
            Output::Parquet(w) => {
                let out = w.finish().map_err(std::io::Error::other)?;
                out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            }
        }
        std::fs::rename(&self.tmp, &self.path)
    }
}

/// The temporary name a file is written under before it is renamed to `path`.
fn beside(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

/// Writes `path` through `write` (given the file), whole or not at all: into a file
/// beside it, renamed over it once written.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = beside(path);
    write(File::create(&tmp)?)?;
    std::fs::rename(&tmp, path)
}
