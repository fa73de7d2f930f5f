-- Drives Tailor Reverb's VST3 in Ardour 7 (Debian package `ardour`, run by ardour7-lua):
-- lists its parameters, feeds ACE Noise through it on a bus and meters the output during the
-- noise and the tail after the noise stops. Run by run_ardour_check.sh.
local dir = os.getenv("TAILOR_SESSION_DIR")
AudioEngine:set_backend("JACK", "", "")
assert(AudioEngine:start(false) == 0, "JACK engine did not start")
assert(create_session(dir, "tailor", 48000), "no session")

local found = false
for p in ARDOUR.LuaAPI.list_plugins():iter() do
	if p.type == ARDOUR.PluginType.VST3 then
		print("vst3 plugin:", p.name, p.unique_id)
		if p.name == "Tailor Reverb" then found = true end
	end
end
assert(found, "Tailor Reverb VST3 not found by Ardour's scanner")

local routes = Session:new_audio_route(2, 2, nil, 1, "FX", ARDOUR.PresentationInfo.Flag.AudioBus,
	ARDOUR.PresentationInfo.max_order)
local bus = routes:front()
local noise = ARDOUR.LuaAPI.new_luaproc(Session, "ACE Noise")
assert(not noise:isnil(), "no ACE Noise")
bus:add_processor_by_index(noise, 0, nil, true)
local rev = ARDOUR.LuaAPI.new_plugin(Session, "Tailor Reverb", ARDOUR.PluginType.VST3, "")
assert(not rev:isnil(), "cannot instantiate Tailor Reverb")
bus:add_processor_by_index(rev, 1, nil, true)
local plug = rev:to_insert():plugin(0)
local names = {}
for i = 0, plug:parameter_count() - 1 do
	if plug:parameter_is_input(i) then
		local n = plug:parameter_label(i)
		names[#names + 1] = n
		print("parameter:", i, n)
	end
end
for _, want in ipairs({ "Mix", "Pre-delay", "Decay", "Tone", "Output", "Width" }) do
	local ok = false
	for _, n in ipairs(names) do if n == want then ok = true end end
	assert(ok, "parameter " .. want .. " not listed")
end
-- Fully wet so that the tail is the reverb's.
for i = 0, plug:parameter_count() - 1 do
	if plug:parameter_is_input(i) and plug:parameter_label(i) == "Mix" then
		ARDOUR.LuaAPI.set_plugin_insert_param(rev:to_insert(), i, 1.0)
	end
end

local meter = bus:peak_meter()
local function peak_db()
	local m = -math.huge
	for c = 0, 1 do m = math.max(m, meter:meter_level(c, ARDOUR.MeterType.MeterPeak)) end
	return m
end
ARDOUR.LuaAPI.usleep(3000000)
local during = peak_db()
print(string.format("peak with noise in: %.1f dBFS", during))
noise:deactivate()
ARDOUR.LuaAPI.usleep(400000)
local tail = peak_db()
print(string.format("peak 0.4 s after the noise stopped: %.1f dBFS", tail))
ARDOUR.LuaAPI.usleep(6000000)
local late = peak_db()
print(string.format("peak 6.4 s after the noise stopped: %.1f dBFS", late))
assert(during > -60 and during < 20, "no sane output while noise plays")
assert(tail > -90 and tail < during + 6, "no finite reverb tail")
assert(late < tail - 20, "the tail does not decay")
print("VST3 CHECK PASSED")
Session:save_state("", false, false, false, false, false)
close_session()
