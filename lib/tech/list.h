/* list.h - the techniques of lib/tech/, one line each, in the order they
 * are checked, prepared and saved (state-file tags in increasing order:
 * momentum and adam 1-2, hizoo 3, lozo_m 4, sparse 5); no include guard:
 * tech.h expands it twice. */
ZOQ__TECH(ddc)
ZOQ__TECH(sign)
ZOQ__TECH(accumulate)
ZOQ__TECH(lozo)
ZOQ__TECH(momentum)
ZOQ__TECH(adam)
ZOQ__TECH(hizoo)
ZOQ__TECH(lozo_m)
ZOQ__TECH(codes)
ZOQ__TECH(scales)
ZOQ__TECH(sparse)
