mod isolation;
mod support;
mod turns;
