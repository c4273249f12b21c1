//! Every link the app makes to its own pages (the web app's, and webhook bodies'), and the one
//! percent-encoder: keys are escaped once, here, so a flag key holding `?`, `#`, `%` or a space
//! (the key grammar allows them) still links to its own page. Plain text in, paths out: no HTTP.

/// One path segment, percent-encoded (RFC 3986 unreserved characters, and `:`, stay as they are).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path of segments separated by `/` (which keeps its meaning), each one encoded: the file and
/// branch of a code reference in a link template.
pub fn path(s: &str) -> String {
    s.split('/').map(segment).collect::<Vec<_>>().join("/")
}

/// `/projects/{project}{rest}`; project keys are plain (`[a-z0-9_-]`).
pub fn project(key: &str, rest: &str) -> String {
    format!("/projects/{key}{rest}")
}

/// A flag's page.
pub fn flag(project: &str, key: &str) -> String {
    format!("/projects/{project}/flags/{}", segment(key))
}

/// A flag's release plan in one environment.
pub fn release_plan(project: &str, key: &str, env: &str) -> String {
    format!(
        "/projects/{project}/flags/{}/environments/{}/plan",
        segment(key),
        segment(env)
    )
}

/// A change request's page.
pub fn change_request(id: i64) -> String {
    format!("/change-requests/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_reserved_characters_stay_one_segment() {
        assert_eq!(
            flag("web", "a?b#c%d e/f"),
            "/projects/web/flags/a%3Fb%23c%25d%20e%2Ff"
        );
        assert_eq!(
            flag("web", "new-checkout.v2:eu"),
            "/projects/web/flags/new-checkout.v2:eu"
        );
        assert_eq!(segment("ключ"), "%D0%BA%D0%BB%D1%8E%D1%87");
        assert_eq!(path("feature/a b"), "feature/a%20b");
    }
}
