//! A program that names its backend, as the library asks: the same output whatever
//! other crates of the build enable.

use strand_alloc::{Handle, Strand, StrandArena, ValueAllocator};

fn main() {
    let s = Strand::<StrandArena>::local().expect("a strand");
    let v = s.str("value");
    let h = Handle::<StrandArena>::new_str("handle").expect("a handle");
    // SAFETY: owned by this thread, read and released once.
    let text = unsafe { h.as_str() }.expect("readable").to_string();
    unsafe { h.release() }.expect("released");
    println!("backend {} strand {} value {v} handle {text}", StrandArena::NAME, s.backend());
    #[cfg(feature = "with-sibling")]
    println!("sibling {}", additive_sibling::greet());
}
