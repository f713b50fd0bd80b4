-- benchmarks/io/pipeline.lua - wrk sends 16 GET requests in each write and
-- counts 16 responses (TechEmpower's plaintext test pipelines 16 deep).
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end

request = function() return req end
