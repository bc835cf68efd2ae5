/*
 * assets.h (internal to the dashboard module): the embedded web/ files, generated at build
 * time by embed.cmake into web_assets.c. Paths are "/assets/<file>"; the table ends with a
 * NULL path.
 */
#ifndef KP_DASHBOARD_ASSETS_H
#define KP_DASHBOARD_ASSETS_H

#include <stddef.h>

typedef struct kp_dash_asset {
  const char *path;          /* "/assets/app.js" */
  const char *content_type;
  const unsigned char *data; /* NUL-terminated; len excludes the NUL */
  size_t len;
} kp_dash_asset_t;

extern const kp_dash_asset_t kp_dash_assets[];

#endif
