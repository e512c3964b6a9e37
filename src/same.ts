// Compile-time proof that two declarations of one shape agree: `const ok: Same<A, B> = true`
// fails the type check the moment either side drifts.

export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
