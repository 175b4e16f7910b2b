mod isolation;
mod messages;
mod secrets;
mod support;
mod tools;
mod turns;
