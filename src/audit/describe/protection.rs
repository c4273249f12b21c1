//! How changes to an environment are reviewed: "Protection protected, 2 approvals → not
//! protected".

use super::Line;
use serde_json::Value;

fn words(v: Option<&Value>) -> Option<String> {
    let v = v?;
    let n = v
        .get("requiredApprovals")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    match v.get("protected").and_then(Value::as_bool)? {
        true => Some(format!(
            "protected, {n} approval{}",
            if n == 1 { "" } else { "s" }
        )),
        false => Some("not protected".into()),
    }
}

pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    match (words(before), words(after)) {
        (Some(b), Some(a)) if b != a => vec![Line::changed("Protection", b, a)],
        (None, Some(a)) => vec![Line::note("Protection", format!("Protection: {a}"))],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn protection_reads_with_its_approvals() {
        let b = json!({"protected": true, "requiredApprovals": 2});
        let a = json!({"protected": false, "requiredApprovals": 1});
        let said: Vec<String> = diff(Some(&b), Some(&a))
            .into_iter()
            .map(|l| l.sentence)
            .collect();
        assert_eq!(said, ["Protection protected, 2 approvals → not protected"]);
    }
}
