-- luacheck for the Prosody glue: `luacheck module/`
std = "lua54"
max_line_length = 150
read_globals = { "prosody", "hosts", "module" }
files["module/"] = { globals = { "module" } }
