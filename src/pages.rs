//! The pages, one file each.

mod dashboard;
mod home;
mod multi_client;
mod not_found;

pub(crate) use dashboard::DashboardPage;
pub(crate) use home::HomePage;
pub(crate) use multi_client::MultiClientPage;
pub(crate) use not_found::NotFoundPage;
