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
    pub unreadable: usize,
}

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
    let (scanned, binary, unreadable) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    builder.build_parallel().run(|| {
        // One buffer per thread, reused for every file it reads.
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        let (found, scanned, binary, unreadable) = (&found, &scanned, &binary, &unreadable);
        Box::new(move |entry| {
            let Ok(entry) = entry else {
                unreadable.fetch_add(1, Ordering::Relaxed);
                return WalkState::Continue;
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            buf.clear();
            let read = std::fs::File::open(entry.path()).and_then(|mut f| f.read_to_end(&mut buf));
            if read.is_err() {
                unreadable.fetch_add(1, Ordering::Relaxed);
                return WalkState::Continue;
            }
            if is_binary(&buf) {
                binary.fetch_add(1, Ordering::Relaxed);
                return WalkState::Continue;
            }
            scanned.fetch_add(1, Ordering::Relaxed);
            let hits = matcher.scan(&buf);
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
        unreadable: unreadable.into_inner(),
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
