mod isolation;
mod messages;
mod support;
mod turns;
