//! The reactive pieces the pages are built from.

mod connect_form;
mod event_history;
mod event_types_field;
mod hub_totals;
mod outage_note;
mod publish_answer;
mod publish_card;
mod published_item;
mod sparkline;
mod status_badge;
mod stream_panel;
mod streams_table;
mod token_field;

pub(crate) use hub_totals::HubTotals;
pub(crate) use publish_card::PublishCard;
pub(crate) use stream_panel::StreamPanel;
pub(crate) use streams_table::StreamsTable;
