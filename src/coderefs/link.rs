//! A project's repository URL template, such as
//! `https://github.com/acme/{repository}/blob/{commit}/{file}#L{line}`: checked when set, and
//! filled in for each reference the Code tab and the API show.

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 5] = ["{repository}", "{commit}", "{branch}", "{file}", "{line}"];
pub const MAX_TEMPLATE_CHARS: usize = 500;

/// The template as stored (trimmed), None for "no links", or why it cannot be used.
pub fn check_template(raw: &str) -> Result<Option<String>, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > MAX_TEMPLATE_CHARS {
        return Err(format!(
            "a URL template has at most {MAX_TEMPLATE_CHARS} characters"
        ));
    }
    if !(t.starts_with("https://") || t.starts_with("http://")) {
        return Err("a URL template starts with https:// or http://".into());
    }
    let authority = t
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    if authority.is_empty() || authority.contains('{') {
        return Err("a URL template names its host, as in https://github.com/…".into());
    }
    if !t.contains("{file}") {
        return Err(
            "a URL template must place {file}, or it links every reference to the same page".into(),
        );
    }
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        let Some(p) = PLACEHOLDERS.iter().find(|p| tail.starts_with(**p)) else {
            return Err(format!(
                "a URL template may use only {}",
                PLACEHOLDERS.join(", ")
            ));
        };
        rest = &tail[p.len()..];
    }
    let sample = fill(t, "repo", "0123abc", "main", "src/app.ts", 1);
    match url::Url::parse(&sample) {
        Ok(u) if u.host_str().is_some() => Ok(Some(t.to_string())),
        _ => Err("the URL template does not make a valid web address".into()),
    }
}

/// The link to one reference; None when the template wants a commit or branch the scan did
/// not record. A missing commit falls back to the branch and the other way round.
pub fn link(
    template: &str,
    repository: &str,
    commit: Option<&str>,
    branch: Option<&str>,
    file: &str,
    line: i64,
) -> Option<String> {
    let wants = |p: &str| template.contains(p);
    let commit = commit.or(branch);
    let branch = branch.or(commit);
    if (wants("{commit}") && commit.is_none()) || (wants("{branch}") && branch.is_none()) {
        return None;
    }
    Some(fill(
        template,
        repository,
        commit.unwrap_or_default(),
        branch.unwrap_or_default(),
        file,
        line,
    ))
}

fn fill(t: &str, repository: &str, commit: &str, branch: &str, file: &str, line: i64) -> String {
    t.replace("{repository}", &crate::href::path(repository))
        .replace("{commit}", &crate::href::path(commit))
        .replace("{branch}", &crate::href::path(branch))
        .replace("{file}", &crate::href::path(file))
        .replace("{line}", &line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GH: &str = "https://github.com/acme/{repository}/blob/{commit}/{file}#L{line}";

    #[test]
    fn templates_are_checked() {
        assert_eq!(check_template("  ").unwrap(), None);
        assert_eq!(check_template(GH).unwrap().as_deref(), Some(GH));
        for bad in [
            "ftp://x/{file}",
            "https://x/blob/main",
            "https://x/{file}/{user}",
            "javascript:alert(1)//{file}",
            "https:///{file}",
        ] {
            assert!(check_template(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn links_are_filled_and_encoded() {
        assert_eq!(
            link(GH, "shop", Some("abc123"), Some("main"), "src/a b.ts", 7).as_deref(),
            Some("https://github.com/acme/shop/blob/abc123/src/a%20b.ts#L7")
        );
        // No commit: the branch stands in; neither: no link.
        assert_eq!(
            link(GH, "shop", None, Some("feature/x"), "a.rs", 1).as_deref(),
            Some("https://github.com/acme/shop/blob/feature/x/a.rs#L1")
        );
        assert_eq!(link(GH, "shop", None, None, "a.rs", 1), None);
        assert_eq!(
            link(
                "https://x/{repository}/{file}",
                "shop",
                None,
                None,
                "a\"<.rs",
                2
            )
            .as_deref(),
            Some("https://x/shop/a%22%3C.rs")
        );
    }
}
