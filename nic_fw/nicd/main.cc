// wave-nicd: the emulated SmartNIC's firmware. See nicd.h and --help.
#include <cstdio>
#include <string>

#include "nicd/nicd.h"
#include "nicd/options.h"

int main(int argc, char** argv) {
  wave::nicd::Options options;
  std::string error;
  switch (wave::nicd::ParseOptions(argc, argv, &options, &error)) {
    case wave::nicd::ParseResult::kHelp:
      std::fputs(wave::nicd::Usage(), stdout);
      return 0;
    case wave::nicd::ParseResult::kError:
      std::fprintf(stderr, "wave-nicd: %s\n%s", error.c_str(), wave::nicd::Usage());
      return 2;
    case wave::nicd::ParseResult::kOk:
      break;
  }
  wave::nic::BlockTerminationSignals();
  return wave::nicd::RunNicd(options);
}
