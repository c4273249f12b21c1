//! The commit and branch of a git checkout, read from `.git` itself (HEAD, loose refs,
//! packed-refs; worktrees and submodules through their `gitdir:` file and `commondir`), so a
//! scan needs neither libgit2 nor a `git` binary.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkout {
    /// The work tree's top directory.
    pub top: PathBuf,
    /// The full commit id HEAD points at; None on a branch with no commit yet.
    pub commit: Option<String>,
    /// The branch checked out; None when HEAD is detached.
    pub branch: Option<String>,
}

/// The checkout `path` is in, looking upwards from it; None outside any.
pub fn checkout_of(path: &Path) -> Option<Checkout> {
    let mut dir = if path.is_dir() { path } else { path.parent()? };
    loop {
        let dot_git = dir.join(".git");
        if let Some(git_dir) = git_dir(&dot_git) {
            let (commit, branch) = head(&git_dir);
            return Some(Checkout {
                top: dir.to_path_buf(),
                commit,
                branch,
            });
        }
        dir = dir.parent()?;
    }
}

/// `.git` is the directory, or (worktrees, submodules) a file saying `gitdir: <path>`.
fn git_dir(dot_git: &Path) -> Option<PathBuf> {
    if dot_git.is_dir() {
        return dot_git
            .join("HEAD")
            .is_file()
            .then(|| dot_git.to_path_buf());
    }
    let text = std::fs::read_to_string(dot_git).ok()?;
    let target = text.trim().strip_prefix("gitdir:")?.trim();
    let dir = dot_git.parent()?.join(target);
    dir.join("HEAD").is_file().then_some(dir)
}

/// Where shared refs live: a worktree's `commondir`, or the git dir itself.
fn common_dir(git_dir: &Path) -> PathBuf {
    match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => git_dir.join(rel.trim()),
        Err(_) => git_dir.to_path_buf(),
    }
}

fn head(git_dir: &Path) -> (Option<String>, Option<String>) {
    let Ok(text) = std::fs::read_to_string(git_dir.join("HEAD")) else {
        return (None, None);
    };
    let text = text.trim();
    match text.strip_prefix("ref:") {
        Some(name) => {
            let name = name.trim();
            let branch = name.strip_prefix("refs/heads/").unwrap_or(name).to_string();
            (resolve(git_dir, name, 0), Some(branch))
        }
        None => (is_object_id(text).then(|| text.to_string()), None),
    }
}

/// A ref's commit: loose in the git dir or the common dir, else in packed-refs; symbolic refs
/// are followed a few steps.
fn resolve(git_dir: &Path, name: &str, depth: u8) -> Option<String> {
    if depth > 5 || name.contains("..") {
        return None;
    }
    let common = common_dir(git_dir);
    for dir in [git_dir, common.as_path()] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            let text = text.trim();
            if let Some(next) = text.strip_prefix("ref:") {
                return resolve(git_dir, next.trim(), depth + 1);
            }
            if is_object_id(text) {
                return Some(text.to_string());
            }
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|l| {
        let (id, r) = l.split_once(' ')?;
        (r.trim() == name && is_object_id(id)).then(|| id.to_string())
    })
}

/// SHA-1 (40) or SHA-256 (64) hex.
fn is_object_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef01234567";

    fn repo(head: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        std::fs::write(git.join("HEAD"), head).unwrap();
        dir
    }

    #[test]
    fn a_branch_with_a_loose_ref() {
        let dir = repo("ref: refs/heads/main\n");
        std::fs::write(dir.path().join(".git/refs/heads/main"), format!("{ID}\n")).unwrap();
        std::fs::create_dir_all(dir.path().join("src/deep")).unwrap();
        let c = checkout_of(&dir.path().join("src/deep")).unwrap();
        assert_eq!(c.top, dir.path());
        assert_eq!(c.commit.as_deref(), Some(ID));
        assert_eq!(c.branch.as_deref(), Some("main"));
    }

    #[test]
    fn a_packed_ref_a_detached_head_and_an_unborn_branch() {
        let dir = repo("ref: refs/heads/release/1.2\n");
        std::fs::write(
            dir.path().join(".git/packed-refs"),
            format!("# pack-refs with: peeled\n{ID} refs/heads/release/1.2\n"),
        )
        .unwrap();
        let c = checkout_of(dir.path()).unwrap();
        assert_eq!(c.commit.as_deref(), Some(ID));
        assert_eq!(c.branch.as_deref(), Some("release/1.2"));

        let dir = repo(&format!("{ID}\n"));
        let c = checkout_of(dir.path()).unwrap();
        assert_eq!((c.commit.as_deref(), c.branch), (Some(ID), None));

        let dir = repo("ref: refs/heads/main\n");
        let c = checkout_of(dir.path()).unwrap();
        assert_eq!((c.commit, c.branch.as_deref()), (None, Some("main")));
    }

    #[test]
    fn a_worktree_reads_shared_refs_from_the_common_dir() {
        let main = repo("ref: refs/heads/main\n");
        let wt_git = main.path().join(".git/worktrees/feature");
        std::fs::create_dir_all(&wt_git).unwrap();
        std::fs::write(wt_git.join("HEAD"), "ref: refs/heads/feature\n").unwrap();
        std::fs::write(wt_git.join("commondir"), "../..\n").unwrap();
        std::fs::write(main.path().join(".git/refs/heads/feature"), ID).unwrap();
        let tree = tempfile::tempdir().unwrap();
        std::fs::write(
            tree.path().join(".git"),
            format!("gitdir: {}\n", wt_git.display()),
        )
        .unwrap();
        let c = checkout_of(tree.path()).unwrap();
        assert_eq!(c.top, tree.path());
        assert_eq!(c.commit.as_deref(), Some(ID));
        assert_eq!(c.branch.as_deref(), Some("feature"));
    }

    #[test]
    fn outside_a_checkout() {
        let dir = tempfile::tempdir().unwrap();
        // The temp dir may itself sit inside some checkout; look only at its own answer.
        if let Some(c) = checkout_of(dir.path()) {
            assert_ne!(c.top, dir.path());
        }
    }
}
