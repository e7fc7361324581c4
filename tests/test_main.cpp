// The doctest main shared by every suite; it prints the closing summary line.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
