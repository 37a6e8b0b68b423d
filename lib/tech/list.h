/* list.h - the techniques of lib/tech/, one line each, in the order they
 * are checked and prepared (no include guard: tech.h expands it twice). */
ZOQ__TECH(ddc)
ZOQ__TECH(sign)
ZOQ__TECH(accumulate)
ZOQ__TECH(lozo)
ZOQ__TECH(hizoo)
ZOQ__TECH(momentum)
ZOQ__TECH(lozo_m)
ZOQ__TECH(adam)
ZOQ__TECH(codes)
ZOQ__TECH(scales)
ZOQ__TECH(sparse)
