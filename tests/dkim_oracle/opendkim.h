// libopendkim's C header, made includable from C++: it uses C99 `_Bool` in prototypes, which
// C++ spells `bool` (same size and ABI on every platform GCC supports). Private to dkim/*.cc.
#pragma once

#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
