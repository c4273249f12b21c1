//! PostgreSQL's numbered placeholders from the `?` the stores write.

/// The SQL with every placeholder written `$N`, as PostgreSQL wants it. A bare `?` is one more
/// than the highest number so far (SQLite's rule); quoted text and comments are left alone.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut highest = 0u32;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == '\n' {
                        break;
                    }
                }
            }
            '?' | '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n = match digits.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) if c == '?' => highest + 1,
                    Err(_) => {
                        out.push(c);
                        continue;
                    }
                };
                highest = highest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered("select a from t where a = ? and b = ? or c = ?2"),
            "select a from t where a = $1 and b = $2 or c = $2"
        );
        assert_eq!(
            numbered("where x = ?3 and y = ?"),
            "where x = $3 and y = $4"
        );
        assert_eq!(
            numbered("where x = $1 and y = '?'"),
            "where x = $1 and y = '?'"
        );
        assert_eq!(numbered("-- what?\nselect ?"), "-- what?\nselect $1");
    }
}
