-- Argo CD health check of smpp.ghasi.io/MnoConnection.
--
--   Suspended    spec.suspend is true (the connector is scaled to zero)
--   Progressing  no status yet, the spec's generation not yet observed, or Reconciling
--   Degraded     Stalled, bound on the backup endpoint (FAILBACK), no bind of the pool up,
--                not Ready, or (spec.replicas 2) StandbyReady False: no standby to take over
--   Healthy      Ready and not Degraded (the message says when only some binds are up)
--
-- Written for Argo CD's sandbox: Lua 5.1 with only the base and table libraries (no string
-- library), so it uses nothing but comparisons, ipairs and concatenation.

local function condition(status, kind)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

local function text(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local function health(status, message)
  return { status = status, message = message }
end

-- Binds of status.binds[] that are up, and how many there are.
local function bindsUp(status)
  local up, total = 0, 0
  for _, b in ipairs(status.binds or {}) do
    total = total + 1
    if b.state == "bound" then
      up = up + 1
    end
  end
  return up, total
end

local function evaluate(o)
  local spec = o.spec or {}
  local status = o.status
  -- tonumber: Argo CD hands integers over as numbers, but some paths give their text.
  local generation = tonumber((o.metadata or {}).generation)

  if spec.suspend == true then
    return health("Suspended", "Suspended: the connector is scaled to zero")
  end
  if status == nil then
    return health("Progressing", "Waiting for the controller to report a status")
  end
  local observed = tonumber(status.observedGeneration)
  if generation ~= nil and (observed == nil or observed < generation) then
    return health("Progressing", "Waiting for the controller to observe generation " .. generation)
  end

  local ready = condition(status, "Ready")
  local degraded = condition(status, "Degraded")
  local reconciling = condition(status, "Reconciling")
  local stalled = condition(status, "Stalled")

  if isTrue(stalled) then
    return health("Degraded", text(stalled, "Stalled"))
  end
  local readyObserved = ready ~= nil and tonumber(ready.observedGeneration) or nil
  if generation ~= nil and readyObserved ~= nil and readyObserved < generation then
    return health("Progressing", "Waiting for the Ready condition of generation " .. generation)
  end

  local session = status.session or {}
  if session.bindState == "FAILBACK" or session.activeEndpoint == "backup" then
    if isTrue(degraded) then
      return health("Degraded", text(degraded, "Bound on the backup endpoint"))
    end
    return health("Degraded", "Bound on the backup endpoint")
  end
  local up, total = bindsUp(status)
  if total > 0 and up == 0 then
    return health("Degraded", "No bind is up (0/" .. total .. "): " .. text(degraded, text(ready, "not bound")))
  end
  if isTrue(reconciling) then
    return health("Progressing", text(reconciling, "Reconciling"))
  end
  if ready == nil then
    return health("Progressing", "Waiting for the Ready condition")
  end
  if isTrue(ready) and not isTrue(degraded) then
    local standby = condition(status, "StandbyReady")
    if standby ~= nil and standby.status == "False" then
      return health("Degraded", text(standby, "No standby connector pod to take over"))
    end
    if up < total then
      return health("Healthy", text(ready, "Bound") .. " (" .. up .. " of " .. total .. " binds up)")
    end
    return health("Healthy", text(ready, "Bound"))
  end
  if isTrue(degraded) then
    return health("Degraded", text(degraded, "Degraded"))
  end
  return health("Degraded", text(ready, "Not ready"))
end

return evaluate(obj)
