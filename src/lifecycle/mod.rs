//! Where a flag is in its life, and why it might be stale. `stage` and `stale` are pure rules
//! over the evidence; `assess` gathers that evidence from the stores and remembers the result
//! (`store`), `job` does so for every project at an interval, and `marks` holds what owners
//! decide (completed, snoozed, a flag's own lifetime, the project's thresholds). `retirement`
//! is the checklist before archiving (pure) and `checklist` gathers its evidence; `history`
//! keeps each project's daily stale count and reads the numbers of its lifecycle page.
//! `served` says what everyone gets today and what removing the flag means for the code;
//! `report` is the weekly cleanup report built from all of it, kept once a week.

pub mod assess;
pub mod checklist;
pub mod history;
pub mod job;
pub mod marks;
pub mod report;
pub mod retirement;
pub mod served;
pub mod stage;
pub mod stale;
pub mod store;

pub use stage::Stage;
