//! The answer every decoder in the sans-I/O core gives.

/// What a decoder made of the bytes it was given: a whole value and how many
/// bytes it used, or a sign that the value continues past the end of the
/// input. Running out of input is not an error; errors travel beside this in
/// a `Result`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A whole value, and the number of input bytes it took.
    Complete(T, usize),
    /// The input is a valid beginning; more bytes are needed.
    NeedMore,
}
