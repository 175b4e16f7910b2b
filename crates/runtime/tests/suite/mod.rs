mod isolation;
mod loading;
mod messages;
mod secrets;
mod support;
mod tools;
mod turns;
