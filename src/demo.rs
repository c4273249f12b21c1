//! `serve --demo`: a small organisation to explore.

use crate::app::AppState;

pub async fn seed(_state: &AppState) -> anyhow::Result<String> {
    Ok(String::new())
}
