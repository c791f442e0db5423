//! The reactive pieces both pages are built from.

mod connect_form;
mod event_history;
mod sparkline;
mod status_badge;
mod stream_panel;

pub(crate) use stream_panel::StreamPanel;
