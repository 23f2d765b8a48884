//! Where a node's views live on disk. The views database is written afresh
//! (by a rebuild, or by a compaction after an erasure) into the other of two
//! directories, `views` and `views.next`, and the file `views.current`
//! names the one in use. Switching is one atomic rename of that file, so a
//! crash leaves either the old views or the new ones, never half of each;
//! the next start removes the other directory, and with it every page
//! written before the switch.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The suffix of the second directory.
const NEXT: &str = ".next";

/// The suffix of the file naming the directory in use.
const CURRENT: &str = ".current";

/// The two directories a node's views alternate between, named by the
/// first (`<data dir>/views`).
#[derive(Debug, Clone)]
pub struct ViewsDir {
    base: PathBuf,
}

impl ViewsDir {
    /// The views directories named by `base`.
    #[must_use]
    pub fn new(base: impl Into<PathBuf>) -> Self {
        ViewsDir { base: base.into() }
    }

    /// The directory in use: `base` unless `views.current` names the other.
    /// A pointer naming anything else is a damaged data directory.
    pub fn current(&self) -> io::Result<PathBuf> {
        let pointer = self.pointer();
        let named = match std::fs::read(&pointer) {
            Ok(named) => named,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(self.base.clone()),
            Err(error) => return Err(error),
        };
        [self.base.clone(), self.next()]
            .into_iter()
            .find(|dir| {
                dir.file_name()
                    .is_some_and(|name| name.as_encoded_bytes() == named)
            })
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} names neither {} nor {}",
                        pointer.display(),
                        self.base.display(),
                        self.next().display()
                    ),
                )
            })
    }

    /// The directory not in use: where fresh views are written.
    pub fn other(&self) -> io::Result<PathBuf> {
        Ok(if self.current()? == self.base {
            self.next()
        } else {
            self.base.clone()
        })
    }

    /// Makes `dir` (one of the two) the directory in use, durably.
    pub fn switch_to(&self, dir: &Path) -> io::Result<()> {
        let name = dir
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no directory name"))?;
        let pointer = self.pointer();
        let staged = sibling(&self.base, ".current.new");
        let mut file = std::fs::File::create(&staged)?;
        file.write_all(name.as_encoded_bytes())?;
        file.sync_all()?;
        std::fs::rename(&staged, &pointer)?;
        if let Some(parent) = pointer.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    }

    /// Removes the directory not in use, when there is one: what a crash
    /// left of a compaction or a rebuild, or the views a switch replaced.
    pub fn remove_other(&self) -> io::Result<()> {
        let other = self.other()?;
        match std::fs::remove_dir_all(&other) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    fn next(&self) -> PathBuf {
        sibling(&self.base, NEXT)
    }

    fn pointer(&self) -> PathBuf {
        sibling(&self.base, CURRENT)
    }
}

/// `path` with `suffix` appended to its last component.
#[must_use]
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_in_use_until_a_switch_names_the_other() {
        let data = tempfile::tempdir().unwrap();
        let dirs = ViewsDir::new(data.path().join("views"));
        assert_eq!(dirs.current().unwrap(), data.path().join("views"));
        assert_eq!(dirs.other().unwrap(), data.path().join("views.next"));
        dirs.switch_to(&data.path().join("views.next")).unwrap();
        assert_eq!(dirs.current().unwrap(), data.path().join("views.next"));
        assert_eq!(dirs.other().unwrap(), data.path().join("views"));
        dirs.switch_to(&data.path().join("views")).unwrap();
        assert_eq!(dirs.current().unwrap(), data.path().join("views"));
    }

    #[test]
    fn removing_the_other_keeps_the_one_in_use() {
        let data = tempfile::tempdir().unwrap();
        let dirs = ViewsDir::new(data.path().join("views"));
        std::fs::create_dir(data.path().join("views")).unwrap();
        std::fs::create_dir(data.path().join("views.next")).unwrap();
        dirs.switch_to(&data.path().join("views.next")).unwrap();
        dirs.remove_other().unwrap();
        assert!(!data.path().join("views").exists());
        assert!(data.path().join("views.next").exists());
        dirs.remove_other().unwrap();
    }

    #[test]
    fn a_pointer_naming_another_directory_is_refused() {
        let data = tempfile::tempdir().unwrap();
        std::fs::write(data.path().join("views.current"), b"../../etc").unwrap();
        let error = ViewsDir::new(data.path().join("views"))
            .current()
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
