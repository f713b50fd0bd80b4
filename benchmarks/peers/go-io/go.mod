module weftgoio

go 1.19
