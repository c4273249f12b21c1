//! Walking source trees as ripgrep does (the `ignore` crate: `.gitignore`, `.ignore` and
//! `.git/info/exclude` honoured even outside a git checkout, hidden files and `.git` skipped,
//! symlinks not followed), scanning each file once with the [`Matcher`], on every core.

use super::scan::{is_binary, Hit, Matcher};
use ignore::{WalkBuilder, WalkState};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The hits of one file, named relative to the scanned root with `/` separators.
#[derive(Debug, Clone)]
pub struct FileHits {
    pub file: String,
    pub hits: Vec<Hit>,
}

#[derive(Debug, Default)]
pub struct Walked {
    /// Sorted by file name.
    pub files: Vec<FileHits>,
    pub scanned: usize,
    pub binary: usize,
    /// Files over 64 MiB, not scanned.
    pub large: usize,
    pub unreadable: usize,
}

const BUFFER_BYTES: usize = 64 * 1024;
const SHRINK_ABOVE: usize = 1024 * 1024;
const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// Scans `paths` (directories or files under `root`); names are relative to `root`.
pub fn walk(root: &Path, paths: &[PathBuf], matcher: &Matcher) -> Walked {
    let Some((first, rest)) = paths.split_first() else {
        return Walked::default();
    };
    let mut builder = WalkBuilder::new(first);
    for p in rest {
        builder.add(p);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    builder.require_git(false).threads(threads);

    let found: Mutex<Vec<FileHits>> = Mutex::new(Vec::new());
    let (scanned, binary, large, unreadable) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    builder.build_parallel().run(|| {
        // One buffer per thread, reused for every file it reads (zeroed once, grown on demand).
        let mut buf: Vec<u8> = vec![0; BUFFER_BYTES];
        let (found, scanned, binary, large, unreadable) =
            (&found, &scanned, &binary, &large, &unreadable);
        Box::new(move |entry| {
            let Ok(entry) = entry else {
                unreadable.fetch_add(1, Ordering::Relaxed);
                return WalkState::Continue;
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let len = match read_file(entry.path(), &mut buf) {
                Ok(Some(len)) => len,
                Ok(None) => {
                    large.fetch_add(1, Ordering::Relaxed);
                    return WalkState::Continue;
                }
                Err(_) => {
                    unreadable.fetch_add(1, Ordering::Relaxed);
                    return WalkState::Continue;
                }
            };
            let text = &buf[..len];
            if is_binary(text) {
                binary.fetch_add(1, Ordering::Relaxed);
                return WalkState::Continue;
            }
            scanned.fetch_add(1, Ordering::Relaxed);
            let hits = matcher.scan(text);
            if !hits.is_empty() {
                let file = relative_name(root, entry.path());
                if let Ok(mut found) = found.lock() {
                    found.push(FileHits { file, hits });
                }
            }
            WalkState::Continue
        })
    });
    let mut files = found.into_inner().unwrap_or_default();
    files.sort_by(|a, b| a.file.cmp(&b.file));
    Walked {
        files,
        scanned: scanned.into_inner(),
        binary: binary.into_inner(),
        large: large.into_inner(),
        unreadable: unreadable.into_inner(),
    }
}

/// Reads a whole file into `buf` (whose length is its capacity), growing it when the file is
/// larger; answers the file's length. Plain reads until end of file: no stat per file.
/// None for a file over [`MAX_FILE_BYTES`], which is not scanned (generated or data files).
fn read_file(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    if buf.len() > SHRINK_ABOVE {
        buf.truncate(BUFFER_BYTES);
        buf.shrink_to_fit();
    }
    let mut file = std::fs::File::open(path)?;
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if filled >= MAX_FILE_BYTES {
                return Ok(None);
            }
            buf.resize(buf.len() * 2, 0);
        }
        match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok(Some(filled)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `src/app.ts` for `root/src/app.ts`; the path as given when it is outside `root`.
pub fn relative_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_with_forward_slashes() {
        let root = Path::new("/repo");
        assert_eq!(
            relative_name(root, Path::new("/repo/src/app.ts")),
            "src/app.ts"
        );
        assert_eq!(relative_name(root, Path::new("/repo/./a/b")), "a/b");
    }
}
