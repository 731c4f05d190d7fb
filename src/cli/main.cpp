#include <cstdio>
int main() { std::puts("difu"); return 0; }
