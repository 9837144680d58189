#pragma once
// Symbol visibility for libstx: everything is hidden unless marked STX_API.
#if defined(_WIN32)
#if defined(STX_BUILDING_LIBRARY)
#define STX_API __declspec(dllexport)
#else
#define STX_API __declspec(dllimport)
#endif
#else
#define STX_API __attribute__((visibility("default")))
#endif
