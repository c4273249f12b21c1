//! `serve --demo`: a small organisation to explore — two projects, a team, users of every role,
//! flags in several lifecycle stages (some overdue), and some history.

use crate::accounts::store as accounts;
use crate::audit::Actor;
use crate::auth::password;
use crate::authz::Role;
use crate::catalog::service::{self as catalog, FlagInput};
use crate::db::Writes;
use crate::projects::service as projects;
use crate::state::AppState;
use chrono::Duration;

pub const PASSWORD: &str = "demo-password-2026";

const PEOPLE: [(&str, &str, Option<Role>, bool); 5] = [
    ("admin@demo.switchyard.dev", "Ada Admin", None, true),
    (
        "olivia@demo.switchyard.dev",
        "Olivia Owner",
        Some(Role::Owner),
        false,
    ),
    (
        "arjun@demo.switchyard.dev",
        "Arjun Approver",
        Some(Role::Approver),
        false,
    ),
    (
        "erin@demo.switchyard.dev",
        "Erin Editor",
        Some(Role::Editor),
        false,
    ),
    (
        "victor@demo.switchyard.dev",
        "Victor Viewer",
        Some(Role::Viewer),
        false,
    ),
];

/// (key, type, owner, tags, age in days, environments switched on)
type DemoFlag = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
    &'static [&'static str],
);

const FLAGS: [DemoFlag; 8] = [
    (
        "new-checkout",
        "release",
        "team:payments",
        "checkout,payments",
        12,
        &["development", "staging"],
    ),
    (
        "one-click-pay",
        "release",
        "olivia@demo.switchyard.dev",
        "checkout",
        65,
        &["development", "staging", "production"],
    ),
    (
        "search-ranking-v2",
        "experiment",
        "erin@demo.switchyard.dev",
        "search",
        3,
        &["development"],
    ),
    (
        "pricing-page-test",
        "experiment",
        "arjun@demo.switchyard.dev",
        "growth",
        90,
        &["development", "production"],
    ),
    (
        "db-migration-orders",
        "operational",
        "team:payments",
        "ops",
        20,
        &["development", "staging", "production"],
    ),
    (
        "disable-recommendations",
        "kill-switch",
        "team:payments",
        "ops,resilience",
        200,
        &[],
    ),
    (
        "beta-dashboard",
        "permission",
        "erin@demo.switchyard.dev",
        "beta",
        30,
        &["development", "production"],
    ),
    ("holiday-banner", "release", "", "marketing", 1, &[]),
];

pub async fn seed(state: &AppState) -> anyhow::Result<String> {
    let mut conn = state.db.acquire().await?;
    if accounts::user_by_email(&mut conn, PEOPLE[0].0)
        .await?
        .is_some()
    {
        return Ok(instructions());
    }
    drop(conn);
    let hash = password::hash_blocking(PASSWORD.to_string()).await?;
    let now = state.now();
    // Before the feed starts (its first load reads the seed).
    let writes = Writes::unobserved(state.db.clone());
    let mut tx = writes.begin().await?;
    let admin = Actor::system("demo");
    let mut ids = Vec::new();
    for (email, name, _, is_admin) in PEOPLE {
        let u = accounts::insert_user(
            &mut tx,
            email,
            name,
            &hash,
            is_admin,
            now - Duration::days(210),
        )
        .await?;
        ids.push(u.id);
    }
    let team = accounts::insert_team(&mut tx, "payments", "Payments", now).await?;
    accounts::add_team_member(&mut tx, team, ids[1]).await?;
    accounts::add_team_member(&mut tx, team, ids[3]).await?;

    // Projects and members first, so the flags' history is the most recent part of the log.
    let mut made = Vec::new();
    for (key, name) in [("web-shop", "Web shop"), ("mobile-app", "Mobile app")] {
        let p = projects::create(&mut tx, &admin, key, name, "", now - Duration::days(200)).await?;
        for ((_, _, role, _), id) in PEOPLE.iter().zip(&ids) {
            if let Some(role) = role {
                projects::set_member(&mut tx, &admin, &p, *id, *role, now - Duration::days(200))
                    .await?;
            }
        }
        made.push(p);
    }
    {
        let p = &made[0];
        let envs = crate::projects::store::environments(&mut tx, p.id).await?;
        let editor = Actor::user(ids[3], PEOPLE[3].0, false);
        for (fkey, ftype, owner, tags, age, on) in FLAGS {
            let created = now - Duration::days(age);
            let input = FlagInput {
                key: fkey.into(),
                name: title(fkey),
                description: format!("Demo flag: {}", title(fkey).to_lowercase()),
                flag_type: ftype.into(),
                value_type: "boolean".into(),
                owner: owner.into(),
                tags: crate::catalog::flag::split_tags(tags),
                links: vec![(
                    "ticket".into(),
                    format!("https://tickets.example.com/SHOP-{}", 100 + age),
                )],
            };
            catalog::create_flag(&mut tx, &editor, p, input, created).await?;
            for (i, env) in envs
                .iter()
                .filter(|e| on.contains(&e.key.as_str()))
                .enumerate()
            {
                let at = created + Duration::hours(2 + i as i64 * 20);
                catalog::set_enabled(
                    &mut tx,
                    &admin,
                    p,
                    fkey,
                    catalog::Switch {
                        env,
                        on: true,
                        reason: Some("demo rollout"),
                    },
                    at,
                )
                .await?;
            }
        }
    }
    writes.commit(tx).await?;
    Ok(instructions())
}

fn title(key: &str) -> String {
    let words: Vec<String> = key
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    words.join(" ")
}

fn instructions() -> String {
    let mut s = format!("Demo data is ready. Sign in with any of these (password {PASSWORD}):\n");
    for (email, name, role, admin) in PEOPLE {
        let what = match (role, admin) {
            (_, true) => "admin".to_string(),
            (Some(r), _) => r.as_str().to_string(),
            _ => String::new(),
        };
        s.push_str(&format!("  {email:<32} {name} ({what})\n"));
    }
    s
}
