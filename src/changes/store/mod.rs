//! SQL of change requests: the request rows in `requests`, their items in `items`, approvals
//! and comments in `review`, the requests that change one flag in `of_flag`, due scheduled ones
//! in `scheduled`, the live versions items are based on in `versions`; emergency kills in `kills`.

mod items;
mod kills;
mod of_flag;
mod requests;
mod review;
mod scheduled;
mod versions;

pub use items::*;
pub use kills::*;
pub use of_flag::*;
pub use requests::*;
pub use review::*;
pub use scheduled::*;
pub use versions::*;
