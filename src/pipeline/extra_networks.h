// pipeline/extra_networks.h — webui's extra networks in a prompt, <kind:arg:arg...> (modules/extra_networks.py):
// every such tag is cut from the text the encoder reads (the infotext keeps the prompt as written);
// <lora:name[:te[:unet]]> and named te= / unet= (also kind "lyco") choose a LoRA from a folder of files, as
// webui's Lora extension reads them: te defaults to 1, unet to te.
#pragma once
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline/request.h"

namespace difu {

// The prompt without its extra-network tags (webui's re.sub(r"<(\w+):([^>]+)>", "", prompt)).
std::string strip_extra_networks(const std::string& prompt);

// A folder of LoRA files (.safetensors, .pt, .ckpt, searched recursively), by name: the file name
// without extension. Thread-safe; refresh() rescans (webui's /sdapi/v1/refresh-loras).
class LoraLibrary {
public:
    explicit LoraLibrary(std::string dir);
    void refresh();
    std::map<std::string, std::string> entries() const;  // name -> path
    const std::string& dir() const { return dir_; }
    // The path of `name`; throws Error naming the folder when it holds no such LoRA.
    std::string find(const std::string& name) const;

private:
    std::string dir_;
    mutable std::mutex mutex_;
    std::map<std::string, std::string> by_name_;
};

// Appends to r.loras the LoRAs the prompt's tags name (resolved in `library`; none without one, which makes
// any <lora:...> tag an error). Throws Error for a malformed tag, an unknown name, or an extra-network kind
// difu does not apply (hypernet, ...).
void add_prompt_loras(GenerateRequest& r, const LoraLibrary* library);

// "FILE" or "FILE:WEIGHT" (the CLI's --lora): both multipliers WEIGHT (default 1).
LoraUse parse_lora_option(const std::string& text);

// webui's LoRA hash for the infotext ("Lora hashes"): the first 12 hex digits of the SHA-256 of a
// .safetensors file's tensor data (the "addnet" hash, after the header), of the whole file otherwise.
std::string lora_short_hash(const std::string& path);

}  // namespace difu
