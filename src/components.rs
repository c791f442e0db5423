//! The reactive pieces both pages are built from.

mod connect_form;
mod event_history;
mod event_types_field;
mod publish_answer;
mod publish_card;
mod published_item;
mod sparkline;
mod status_badge;
mod stream_panel;
mod token_field;

pub(crate) use publish_card::PublishCard;
pub(crate) use stream_panel::StreamPanel;
