/*
 * ua.h: the one User-Agent keepon sends, measurement and control plane alike.
 *
 * Invariant: nothing on the wire names keepon. A current desktop browser's User-Agent is what
 * most HTTPS clients on a network send (and what OONI's probe sends), so a censor watching the
 * path cannot pick keepon's requests out by this header. It lives in base because both src/net
 * (measurement HTTP, our own wire) and src/httpc (libcurl) send it and neither depends on the other.
 */
#ifndef KP_BASE_UA_H
#define KP_BASE_UA_H

#define KP_BROWSER_UA \
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

#endif
