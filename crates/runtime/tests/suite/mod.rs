mod support;
mod turns;
