//! The catalog's filters, sorting and paging, as they travel in the query string.

use serde::Deserialize;

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct CatalogFilter {
    /// Free text: matches key, name or description.
    pub q: Option<String>,
    /// Owner's e-mail.
    pub owner: Option<String>,
    /// Owning team's key.
    pub team: Option<String>,
    #[serde(rename = "type")]
    pub flag_type: Option<String>,
    pub tag: Option<String>,
    /// Environment key, combined with `state`.
    pub env: Option<String>,
    /// `on` or `off` in `env` (or in any environment when `env` is empty).
    pub state: Option<String>,
    /// `initial`, `pre-live`, `live`, `completed`, `archived` (also accepted as `stage`).
    #[serde(alias = "stage")]
    pub lifecycle: Option<String>,
    /// `true`: only stale flags (as last assessed); `false`: only the others.
    pub stale: Option<String>,
    /// A stale reason code, such as `unused`.
    pub reason: Option<String>,
    /// `active` (default), `archived` or `all`.
    pub archived: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub page: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Key,
    Name,
    Type,
    Created,
    Updated,
}

impl Sort {
    /// A column by its name in links; the key for anything else.
    pub fn parse(s: &str) -> Sort {
        match s {
            "name" => Sort::Name,
            "type" => Sort::Type,
            "created" => Sort::Created,
            "updated" => Sort::Updated,
            _ => Sort::Key,
        }
    }

    /// Dates read newest first unless asked otherwise.
    pub fn newest_first(self) -> bool {
        matches!(self, Sort::Created | Sort::Updated)
    }

    pub fn column(self) -> &'static str {
        match self {
            Sort::Key => "f.key",
            Sort::Name => "f.name",
            Sort::Type => "f.flag_type",
            Sort::Created => "f.created_at",
            Sort::Updated => "f.updated_at",
        }
    }
}

fn clean(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl CatalogFilter {
    pub fn text(&self) -> Option<&str> {
        clean(&self.q)
    }
    pub fn owner(&self) -> Option<&str> {
        clean(&self.owner)
    }
    pub fn team(&self) -> Option<&str> {
        clean(&self.team)
    }
    pub fn flag_type(&self) -> Option<&str> {
        clean(&self.flag_type)
    }
    pub fn tag(&self) -> Option<&str> {
        clean(&self.tag)
    }
    pub fn env(&self) -> Option<&str> {
        clean(&self.env)
    }
    pub fn state(&self) -> Option<bool> {
        match clean(&self.state) {
            Some("on") => Some(true),
            Some("off") => Some(false),
            _ => None,
        }
    }
    pub fn lifecycle(&self) -> Option<&str> {
        clean(&self.lifecycle)
    }
    pub fn stale(&self) -> Option<bool> {
        match clean(&self.stale) {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        }
    }
    pub fn reason(&self) -> Option<&str> {
        clean(&self.reason)
    }
    pub fn archived(&self) -> &str {
        match clean(&self.archived) {
            Some("archived") => "archived",
            Some("all") => "all",
            // Asking for the archived stage asks for archived flags.
            None if self.lifecycle() == Some("archived") => "archived",
            _ => "active",
        }
    }
    pub fn sort(&self) -> Sort {
        Sort::parse(clean(&self.sort).unwrap_or(""))
    }
    pub fn sort_key(&self) -> &'static str {
        match self.sort() {
            Sort::Key => "key",
            Sort::Name => "name",
            Sort::Type => "type",
            Sort::Created => "created",
            Sort::Updated => "updated",
        }
    }
    /// `dir=desc` or `dir=asc` when given; otherwise the column's natural order: dates newest
    /// first, words A to Z (so a link that only names the column needs no `dir`).
    pub fn descending(&self) -> bool {
        match clean(&self.dir) {
            Some("desc") => true,
            Some("asc") => false,
            _ => self.sort().newest_first(),
        }
    }
    pub fn page(&self) -> i64 {
        clean(&self.page)
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(1)
            .clamp(1, 1_000_000)
    }

    /// The query string for this filter with some parameters replaced, for links.
    pub fn query_with(&self, overrides: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let mut push = |k: &'static str, v: Option<&str>| {
            if let Some(v) = v {
                pairs.push((k, v.to_string()));
            }
        };
        push("q", self.text());
        push("owner", self.owner());
        push("team", self.team());
        push("type", self.flag_type());
        push("tag", self.tag());
        push("env", self.env());
        push(
            "state",
            self.state().map(|on| if on { "on" } else { "off" }),
        );
        push("lifecycle", self.lifecycle());
        push(
            "stale",
            self.stale().map(|s| if s { "true" } else { "false" }),
        );
        push("reason", self.reason());
        let shown_by_default = if self.lifecycle() == Some("archived") {
            "archived"
        } else {
            "active"
        };
        push(
            "archived",
            Some(self.archived()).filter(|a| *a != shown_by_default),
        );
        // Only what differs from the defaults: the key order, each column's natural direction.
        let sort = (self.sort() != Sort::Key).then(|| self.sort_key());
        push("sort", sort);
        let dir = (self.descending() != self.sort().newest_first())
            .then_some(if self.descending() { "desc" } else { "asc" });
        push("dir", dir);
        let page = (self.page() > 1).then(|| self.page().to_string());
        push("page", page.as_deref());
        for (k, v) in overrides {
            pairs.retain(|(pk, _)| pk != k);
            if !v.is_empty() {
                pairs.push((k, v.to_string()));
            }
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_other_filters() {
        let f: CatalogFilter = serde_urlencoded::from_str("q=pay&type=release&page=3").unwrap();
        assert_eq!(f.query_with(&[("page", "4")]), "q=pay&type=release&page=4");
        assert_eq!(
            f.query_with(&[("sort", "name"), ("page", "")]),
            "q=pay&type=release&sort=name"
        );
    }

    #[test]
    fn dates_sort_newest_first_unless_asked() {
        let f: CatalogFilter = serde_urlencoded::from_str("sort=updated").unwrap();
        assert!(f.descending());
        assert_eq!(f.query_with(&[]), "sort=updated");
        let f: CatalogFilter = serde_urlencoded::from_str("sort=updated&dir=asc").unwrap();
        assert!(!f.descending());
        assert_eq!(f.query_with(&[]), "sort=updated&dir=asc");
        let f: CatalogFilter = serde_urlencoded::from_str("sort=name&dir=desc").unwrap();
        assert!(f.descending());
        let f: CatalogFilter = serde_urlencoded::from_str("sort=key&dir=asc&q=&owner=").unwrap();
        assert_eq!(
            f.query_with(&[]),
            "",
            "defaults and empty fields leave no trace"
        );
    }

    #[test]
    fn junk_falls_back_to_defaults() {
        let f: CatalogFilter = serde_urlencoded::from_str("sort=;drop&state=maybe").unwrap();
        assert_eq!(f.sort(), Sort::Key);
        assert_eq!(f.state(), None);
        assert_eq!(f.archived(), "active");
    }
}
