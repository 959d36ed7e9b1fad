// SPDX-License-Identifier: BSD-2-Clause
#include "core/error.hpp"
// Header-only for now; the translation unit keeps the library's source list stable.
