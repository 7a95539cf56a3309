// A video visit's call page (templates/video/_call.html), for the doctor and for the patient.
//
// 1. The device check: camera and microphone pickers (enumerateDevices), a preview and a
//    microphone level meter (an AnalyserNode).
// 2. "Join": call:join over the page's Socket.IO connection (realtime.js; app/realtime/calls.py).
//    The patient waits until the doctor admits them (call:admitted); the doctor sees who is waiting
//    (call:waiting) and admits each one with their own button (call:admit with their sid).
// 3. The call: WebRTC mesh, one RTCPeerConnection per other socket. The newcomer (the join's or the
//    admit's list of peers) makes the offers; offers, answers and ICE candidates go through
//    call:signal. Chat is an RTCDataChannel ("chat") made by the side that offers: peer to peer,
//    nothing stored. Mute, camera off (the track disabled), screen sharing (replaceTrack, back to the
//    camera when it ends), leave, and for the doctor "End call" (call:leave {end: true}).
// After a reload the page joins again by itself (sessionStorage) until the call is left or ended.
// For the recording and file partials: window.ClinicCall {appointmentId, role, socket, room,
// state()}, the "call:streams" event {local, remotes} and the "call:ended" event (the call is over,
// also when the page opens on an ended call; state() is then "ended" until the doctor joins again);
// for tests: window.ClinicCall.stats() (getStats totals).
(function () {
    "use strict";

    var root = document.getElementById("video-call");
    if (!root || root.dataset.ready) {
        return;
    }
    root.dataset.ready = "1";
    var labels = root.dataset;
    var appointmentId = Number(root.dataset.appointment);
    var role = root.dataset.role;
    var myName = root.dataset.name || "";
    var iceServers = [];
    try {
        iceServers = JSON.parse(root.dataset.ice || "[]");
    } catch (ignored) {
        iceServers = [];
    }
    var rejoinKey = "clinic-call-joined-" + appointmentId;
    var part = function (name) { return root.querySelector('[data-part="' + name + '"]'); };
    var button = function (name) { return root.querySelector('[data-action="' + name + '"]'); };
    var realtime = window.clinicRealtime;
    var socket = realtime && realtime.socket;

    var camera = null;          // the camera's MediaStream (video and audio tracks)
    var screenTrack = null;     // the shared screen's video track, while sharing
    var local = new MediaStream();  // what is sent: the microphone and the camera or the screen
    var peers = {};             // sid -> {pc, stream, tile, channel, chain, pending, role}
    var names = {};             // sid -> the display name the server gave (for the tiles' captions)
    var state = "check";        // check, joining, waiting, call, left, ended
    var muted = false;
    var cameraOff = false;
    var meter = null;           // {context, analyser, frame}

    window.ClinicCall = {
        appointmentId: appointmentId,
        role: role,
        socket: socket || null,
        room: root.dataset.room || "",
        stats: stats,
        state: function () { return state; },
        peers: function () { return Object.keys(peers); },
        // the labels of the tracks sent to each peer ("screen:..." while sharing)
        sending: function () {
            return Object.keys(peers).map(function (sid) {
                return peers[sid].pc.getSenders().map(function (sender) {
                    return sender.track ? sender.track.kind + ":" + sender.track.label : "";
                });
            });
        }
    };

    function show(name, visible) {
        var element = part(name);
        if (element) {
            element.hidden = !visible;
        }
    }

    function status(text) {
        var element = part("status");
        if (element) {
            element.textContent = text || "";
        }
    }

    function setState(next) {
        var ending = next === "ended" && state !== "ended";
        state = next;
        show("check", next === "check");
        show("waiting", next === "waiting");
        show("stage", next === "call");
        show("ended", next === "ended");
        show("left", next === "left");
        // On a phone the call's buttons are a bar at the bottom of the screen while in the call,
        // with the notifications' toasts just above it (video_call.css)
        document.body.classList.toggle("video-call-in-call", next === "call");
        if (ending) {
            document.dispatchEvent(new CustomEvent("call:ended", {detail: {appointmentId: appointmentId}}));
        }
    }

    // The bar's height (its labels may wrap, in Vietnamese more than in English), for the page's
    // room below its content and the toasts' place above the bar.
    var controls = root.querySelector(".video-call-controls");
    if (controls && window.ResizeObserver) {
        new ResizeObserver(function () {
            document.body.style.setProperty("--video-call-controls-height", controls.offsetHeight + "px");
        }).observe(controls);
    }

    function tellStreams() {
        var remotes = Object.keys(peers).map(function (sid) { return peers[sid].stream; }).filter(function (stream) {
            return stream.getTracks().length > 0;
        });
        document.dispatchEvent(new CustomEvent("call:streams", {detail: {local: local, remotes: remotes}}));
    }

    // --- 1. the devices -------------------------------------------------------------------------

    function fillPicker(select, devices, kind, current, none) {
        select.textContent = "";
        var list = devices.filter(function (device) { return device.kind === kind; });
        list.forEach(function (device, index) {
            var option = document.createElement("option");
            option.value = device.deviceId;
            option.textContent = device.label || (kind + " " + (index + 1));
            option.selected = device.deviceId === current;
            select.appendChild(option);
        });
        if (!list.length) {
            var option = document.createElement("option");
            option.value = "";
            option.textContent = none;
            select.appendChild(option);
        }
        select.disabled = list.length < 2;
    }

    function trackDevice(stream, kind) {
        var track = stream && (kind === "video" ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0]);
        return track && track.getSettings ? track.getSettings().deviceId : undefined;
    }

    function listDevices() {
        if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) {
            return Promise.resolve();
        }
        return navigator.mediaDevices.enumerateDevices().then(function (devices) {
            fillPicker(part("camera"), devices, "videoinput", trackDevice(camera, "video"), labels.labelNoCamera);
            fillPicker(part("microphone"), devices, "audioinput", trackDevice(camera, "audio"),
                labels.labelNoMicrophone);
        });
    }

    function openDevices(cameraId, microphoneId) {
        var error = part("device-error");
        if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
            error.textContent = labels.labelNoDevice;
            error.hidden = false;
            return Promise.resolve();
        }
        var wanted = {
            video: cameraId ? {deviceId: {exact: cameraId}} : true,
            audio: microphoneId ? {deviceId: {exact: microphoneId}} : true
        };
        return navigator.mediaDevices.getUserMedia(wanted).catch(function () {
            // one of the two may be missing or refused: try each alone
            return navigator.mediaDevices.getUserMedia({video: wanted.video}).catch(function () {
                return navigator.mediaDevices.getUserMedia({audio: wanted.audio});
            });
        }).then(function (stream) {
            if (camera) {
                camera.getTracks().forEach(function (track) { track.stop(); });
            }
            camera = stream;
            error.hidden = true;
            useCamera();
            startMeter(stream);
            return listDevices();
        }).catch(function () {
            error.textContent = labels.labelNoDevice;
            error.hidden = false;
            return listDevices();
        });
    }

    // The local stream and every peer's senders follow the camera (or the shared screen).
    function useCamera() {
        var audio = camera ? camera.getAudioTracks()[0] || null : null;
        var video = screenTrack || (camera ? camera.getVideoTracks()[0] || null : null);
        if (audio) {
            audio.enabled = !muted;
        }
        if (camera && camera.getVideoTracks()[0]) {
            camera.getVideoTracks()[0].enabled = !cameraOff;
        }
        local.getTracks().forEach(function (track) {
            if (track !== audio && track !== video) {
                local.removeTrack(track);
            }
        });
        [audio, video].forEach(function (track) {
            if (track && local.getTracks().indexOf(track) < 0) {
                local.addTrack(track);
            }
        });
        part("preview").srcObject = camera;
        part("waiting-self").srcObject = camera;
        part("self").srcObject = local.getVideoTracks().length ? new MediaStream(local.getVideoTracks()) : null;
        Object.keys(peers).forEach(function (sid) { sendTracks(peers[sid], audio, video); });
        tellStreams();
    }

    function sendTracks(entry, audio, video) {
        entry.pc.getTransceivers().forEach(function (transceiver) {
            var kind = transceiver.receiver.track && transceiver.receiver.track.kind;
            var track = kind === "audio" ? audio : kind === "video" ? video : undefined;
            if (track !== undefined && transceiver.sender.track !== track && !transceiver.stopped) {
                transceiver.sender.replaceTrack(track).catch(function () { /* the peer is going */ });
            }
        });
    }

    function startMeter(stream) {
        stopMeter();
        var Context = window.AudioContext || window.webkitAudioContext;
        if (!Context || !stream.getAudioTracks().length) {
            return;
        }
        var context = new Context();
        var analyser = context.createAnalyser();
        analyser.fftSize = 512;
        context.createMediaStreamSource(stream).connect(analyser);
        var samples = new Uint8Array(analyser.fftSize);
        var bar = part("level");
        var box = part("meter");
        meter = {context: context, analyser: analyser, frame: 0};
        function draw() {
            analyser.getByteTimeDomainData(samples);
            var sum = 0;
            for (var i = 0; i < samples.length; i += 1) {
                var value = (samples[i] - 128) / 128;
                sum += value * value;
            }
            var level = Math.min(100, Math.round(Math.sqrt(sum / samples.length) * 300));
            bar.style.width = level + "%";
            box.setAttribute("aria-valuenow", String(level));
            meter.frame = window.requestAnimationFrame(draw);
        }
        draw();
    }

    // A page may not start sound before the user's first gesture: the meter then waits for one.
    document.addEventListener("pointerdown", function () {
        if (meter && meter.context.state === "suspended") {
            meter.context.resume().catch(function () { /* closed meanwhile */ });
        }
    });

    function stopMeter() {
        if (meter) {
            window.cancelAnimationFrame(meter.frame);
            meter.context.close().catch(function () { /* closed already */ });
            meter = null;
        }
    }

    function pickedDevices() {
        openDevices(part("camera").value, part("microphone").value);
    }

    part("camera").addEventListener("change", pickedDevices);
    part("microphone").addEventListener("change", pickedDevices);

    // --- 2. joining -----------------------------------------------------------------------------

    function emit(event, data) {
        return new Promise(function (resolve) {
            if (!socket) {
                resolve({ok: false, message: labels.labelRefused});
                return;
            }
            socket.emit(event, data, function (answer) { resolve(answer || {ok: false}); });
        });
    }

    function join() {
        setState("joining");
        show("check", false);
        stopMeter();
        return emit("call:join", {appointment_id: appointmentId}).then(function (answer) {
            if (!answer.ok) {
                setState("check");
                var error = part("device-error");
                error.textContent = labels.labelRefused + " " + (answer.message || "");
                error.hidden = false;
                sessionStorage.removeItem(rejoinKey);
                return;
            }
            sessionStorage.setItem(rejoinKey, "1");
            if (answer.ice_servers) {
                iceServers = answer.ice_servers;
            }
            Object.assign(names, answer.names || {});
            if (answer.state === "waiting") {
                setState("waiting");
                return;
            }
            enterCall(answer.peers || []);
            (answer.waiting || []).forEach(addWaiting);
        });
    }

    function enterCall(others) {
        setState("call");
        status(others.length ? labels.labelConnecting : labels.labelAlone);
        others.forEach(function (sid) { offerTo(sid); });
        tellStreams();
    }

    button("join").addEventListener("click", join);
    button("rejoin").addEventListener("click", function () { openDevices().then(join); });

    // The doctor's list of who is waiting.
    function addWaiting(person) {
        var list = part("waiting-list");
        if (!list || list.querySelector('[data-sid="' + person.sid + '"]')) {
            return;
        }
        var item = document.createElement("li");
        item.className = "video-call-waiter";
        item.dataset.sid = person.sid;
        var name = document.createElement("span");
        name.textContent = person.name || labels.labelPatient;
        var admit = document.createElement("button");
        admit.type = "button";
        admit.className = "btn btn-success btn-sm";
        admit.textContent = labels.labelAdmit;
        admit.addEventListener("click", function () {
            admit.disabled = true;
            emit("call:admit", {appointment_id: appointmentId, sid: person.sid}).then(function (answer) {
                if (!answer.ok) {
                    admit.disabled = false;
                    status(answer.message || "");
                    return;
                }
                (answer.admitted || []).forEach(removeWaiting);
                removeWaiting(person.sid);
            });
        });
        item.appendChild(name);
        item.appendChild(document.createTextNode(" "));
        item.appendChild(admit);
        list.appendChild(item);
        syncWaiting();
    }

    function removeWaiting(sid) {
        var list = part("waiting-list");
        var item = list && list.querySelector('[data-sid="' + sid + '"]');
        if (item) {
            item.remove();
        }
        syncWaiting();
    }

    function syncWaiting() {
        var list = part("waiting-list");
        if (list) {
            show("nobody-waiting", list.children.length === 0);
        }
    }

    // --- 3. the peers ----------------------------------------------------------------------------

    // The side that offers adds one audio and one video transceiver (sending what there is,
    // receiving either way); the answering side takes those of the offer (answerWith).
    function peer(sid, offering) {
        if (peers[sid]) {
            return peers[sid];
        }
        var pc = new RTCPeerConnection({iceServers: iceServers});
        var entry = {pc: pc, stream: new MediaStream(), tile: null, channel: null, chain: Promise.resolve(),
            pending: [], sid: sid};
        peers[sid] = entry;
        if (offering) {
            pc.addTransceiver(local.getAudioTracks()[0] || "audio", {direction: "sendrecv", streams: [local]});
            pc.addTransceiver(local.getVideoTracks()[0] || "video", {direction: "sendrecv", streams: [local]});
        }
        pc.addEventListener("icecandidate", function (event) {
            if (event.candidate) {
                emit("call:signal", {appointment_id: appointmentId, to: sid, kind: "ice",
                    data: event.candidate.toJSON()});
            }
        });
        pc.addEventListener("track", function (event) {
            if (entry.stream.getTracks().indexOf(event.track) < 0) {
                entry.stream.addTrack(event.track);
            }
            showTile(entry);
            event.track.addEventListener("unmute", tellStreams);
            tellStreams();
        });
        pc.addEventListener("connectionstatechange", function () {
            if (pc.connectionState === "connected") {
                status("");
            } else if (pc.connectionState === "failed") {
                status(labels.labelPeerLeft);
            }
        });
        pc.addEventListener("datachannel", function (event) { useChannel(entry, event.channel); });
        return entry;
    }

    function showTile(entry) {
        if (entry.tile) {
            return;
        }
        var figure = document.createElement("figure");
        figure.className = "video-call-tile video-call-remote";
        figure.dataset.sid = entry.sid;
        var video = document.createElement("video");
        video.autoplay = true;
        video.playsInline = true;
        video.srcObject = entry.stream;
        var caption = document.createElement("figcaption");
        caption.textContent = names[entry.sid] || (role === "doctor" ? labels.labelPatient : labels.labelDoctor);
        figure.appendChild(video);
        figure.appendChild(caption);
        var tiles = part("tiles");
        tiles.insertBefore(figure, tiles.firstChild);
        entry.tile = figure;
        tiles.dataset.count = String(tiles.querySelectorAll(".video-call-remote").length);
    }

    function dropPeer(sid) {
        var entry = peers[sid];
        if (!entry) {
            return;
        }
        delete peers[sid];
        if (entry.channel) {
            entry.channel.close();
        }
        entry.pc.close();
        if (entry.tile) {
            entry.tile.remove();
        }
        var tiles = part("tiles");
        tiles.dataset.count = String(tiles.querySelectorAll(".video-call-remote").length);
        syncChat();
        tellStreams();
    }

    function answerWith(entry) {
        entry.pc.getTransceivers().forEach(function (transceiver) {
            if (!transceiver.stopped && transceiver.direction === "recvonly") {
                transceiver.direction = "sendrecv";
            }
        });
        sendTracks(entry, local.getAudioTracks()[0] || null, local.getVideoTracks()[0] || null);
    }

    function offerTo(sid) {
        var entry = peer(sid, true);
        useChannel(entry, entry.pc.createDataChannel("chat"));
        entry.chain = entry.chain.then(function () {
            return entry.pc.createOffer();
        }).then(function (offer) {
            return entry.pc.setLocalDescription(offer);
        }).then(function () {
            var description = entry.pc.localDescription;
            return emit("call:signal", {appointment_id: appointmentId, to: sid, kind: "offer",
                data: {type: description.type, sdp: description.sdp}});
        }).catch(function (error) { status(String(error && error.message || error)); });
    }

    function flushCandidates(entry) {
        var waiting = entry.pending;
        entry.pending = [];
        return Promise.all(waiting.map(function (candidate) {
            return entry.pc.addIceCandidate(candidate).catch(function () { /* a stale candidate */ });
        }));
    }

    function onSignal(message) {
        if (!message || state !== "call") {
            return;
        }
        var sid = message.from;
        var entry = message.kind === "offer" ? peer(sid, false) : peers[sid];
        if (!entry) {
            return;
        }
        entry.chain = entry.chain.then(function () {
            var pc = entry.pc;
            if (message.kind === "offer") {
                return pc.setRemoteDescription(message.data).then(function () {
                    answerWith(entry);
                    return flushCandidates(entry);
                }).then(function () {
                    return pc.createAnswer();
                }).then(function (answer) {
                    return pc.setLocalDescription(answer);
                }).then(function () {
                    return emit("call:signal", {appointment_id: appointmentId, to: sid, kind: "answer",
                        data: {type: pc.localDescription.type, sdp: pc.localDescription.sdp}});
                });
            }
            if (message.kind === "answer") {
                return pc.setRemoteDescription(message.data).then(function () { return flushCandidates(entry); });
            }
            if (!pc.remoteDescription) {
                entry.pending.push(message.data);
                return undefined;
            }
            return pc.addIceCandidate(message.data).catch(function () { /* a stale candidate */ });
        }).catch(function (error) { status(String(error && error.message || error)); });
    }

    // --- the chat (RTCDataChannel) ---------------------------------------------------------------

    function useChannel(entry, channel) {
        entry.channel = channel;
        channel.addEventListener("open", syncChat);
        channel.addEventListener("close", syncChat);
        channel.addEventListener("message", function (event) {
            var data;
            try {
                data = JSON.parse(event.data);
            } catch (ignored) {
                return;
            }
            if (data && typeof data.text === "string") {
                addChat(String(data.name || ""), data.text.slice(0, 1000), false);
            }
        });
    }

    function openChannels() {
        return Object.keys(peers).map(function (sid) { return peers[sid].channel; }).filter(function (channel) {
            return channel && channel.readyState === "open";
        });
    }

    function syncChat() {
        var form = part("chat-form");
        var open = openChannels().length > 0;
        form.querySelector("button").disabled = !open;
        part("chat-input").title = open ? "" : labels.labelChatClosed;
    }

    function addChat(name, text, mine) {
        var item = document.createElement("li");
        item.className = "video-call-chat-line" + (mine ? " video-call-chat-mine" : "");
        var who = document.createElement("strong");
        who.textContent = (mine ? labels.labelYou : name) + ": ";
        item.appendChild(who);
        item.appendChild(document.createTextNode(text));
        var log = part("chat-log");
        log.appendChild(item);
        log.scrollTop = log.scrollHeight;
    }

    part("chat-form").addEventListener("submit", function (event) {
        event.preventDefault();
        var input = part("chat-input");
        var text = input.value.trim();
        var channels = openChannels();
        if (!text || !channels.length) {
            return;
        }
        var payload = JSON.stringify({name: myName, text: text});
        channels.forEach(function (channel) { channel.send(payload); });
        addChat(myName, text, true);
        input.value = "";
    });

    // --- the controls ----------------------------------------------------------------------------

    function pressed(name, on, labelOn, labelOff) {
        var element = button(name);
        element.setAttribute("aria-pressed", on ? "true" : "false");
        element.textContent = on ? labelOn : labelOff;
        element.classList.toggle("active", on);
    }

    button("mute").addEventListener("click", function () {
        muted = !muted;
        local.getAudioTracks().forEach(function (track) { track.enabled = !muted; });
        pressed("mute", muted, labels.labelUnmute, labels.labelMute);
    });

    button("camera").addEventListener("click", function () {
        cameraOff = !cameraOff;
        if (camera) {
            camera.getVideoTracks().forEach(function (track) { track.enabled = !cameraOff; });
        }
        pressed("camera", cameraOff, labels.labelCameraOn, labels.labelCameraOff);
    });

    function stopSharing() {
        if (screenTrack) {
            screenTrack.stop();
            screenTrack = null;
        }
        pressed("share", false, labels.labelStopShare, labels.labelShare);
        useCamera();
    }

    button("share").addEventListener("click", function () {
        if (screenTrack) {
            stopSharing();
            return;
        }
        if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
            status(labels.labelShareFailed);
            return;
        }
        navigator.mediaDevices.getDisplayMedia({video: true, audio: false}).then(function (screen) {
            screenTrack = screen.getVideoTracks()[0];
            screenTrack.addEventListener("ended", stopSharing);
            pressed("share", true, labels.labelStopShare, labels.labelShare);
            useCamera();
        }).catch(function () { status(labels.labelShareFailed); });
    });
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
        button("share").hidden = true;  // phones: no screen sharing
    }

    function hangUp() {
        Object.keys(peers).forEach(dropPeer);
        if (screenTrack) {
            screenTrack.stop();
            screenTrack = null;
        }
        if (camera) {
            camera.getTracks().forEach(function (track) { track.stop(); });
            camera = null;
        }
        stopMeter();
        useCamera();
        sessionStorage.removeItem(rejoinKey);
    }

    button("leave").addEventListener("click", function () {
        emit("call:leave", {appointment_id: appointmentId});
        hangUp();
        setState("left");
    });

    var end = button("end");
    if (end) {
        end.addEventListener("click", function () {
            if (!window.confirm(labels.labelConfirmEnd)) {
                return;
            }
            // an open recording is stopped first, its last piece kept (video_recording.js)
            var recording = window.ClinicRecording;
            var ready = recording && typeof recording.beforeEnd === "function" ? recording.beforeEnd()
                : Promise.resolve();
            ready.then(function () {
                return emit("call:leave", {appointment_id: appointmentId, end: true});
            }).then(function (answer) {
                if (answer.ok) {
                    hangUp();
                    setState("ended");
                } else {
                    status(answer.message || "");
                }
            });
        });
    }

    // --- the server's events ---------------------------------------------------------------------

    function mine(data) {
        return data && (data.appointment_id === undefined || data.appointment_id === appointmentId);
    }

    if (socket) {
        socket.on("call:signal", onSignal);
        socket.on("call:waiting", function (data) {
            if (mine(data) && state === "call") {
                addWaiting(data);
            }
        });
        socket.on("call:admitted", function (data) {
            if (mine(data) && state === "waiting") {
                Object.assign(names, data.names || {});
                enterCall(data.peers || []);
            }
        });
        socket.on("call:peer-joined", function (data) {
            if (data && data.sid && data.name) {
                names[data.sid] = data.name;
            }
            if (state === "call" && data && data.sid) {
                removeWaiting(data.sid);
                status(labels.labelConnecting);
            }
        });
        socket.on("call:peer-left", function (data) {
            if (data && data.sid) {
                removeWaiting(data.sid);
                if (peers[data.sid]) {
                    dropPeer(data.sid);
                    status(Object.keys(peers).length ? "" : labels.labelPeerLeft);
                }
            }
        });
        socket.on("call:ended", function (data) {
            if (mine(data)) {
                hangUp();
                setState("ended");
            }
        });
        // A dropped connection comes back with a new sid: the old peers are gone, join again.
        socket.on("connect", function () {
            if (state === "call" || state === "waiting") {
                status(labels.labelReconnecting);
                Object.keys(peers).forEach(dropPeer);
                join();
            }
        });
    }

    // --- statistics, for tests and support --------------------------------------------------------

    function stats() {
        var totals = {peers: Object.keys(peers).length, videoBytesReceived: 0, videoBytesSent: 0,
            bytesReceived: 0, bytesSent: 0, connected: 0};
        return Promise.all(Object.keys(peers).map(function (sid) {
            var pc = peers[sid].pc;
            if (pc.connectionState === "connected") {
                totals.connected += 1;
            }
            return pc.getStats().then(function (report) {
                report.forEach(function (row) {
                    if (row.type === "inbound-rtp") {
                        totals.bytesReceived += row.bytesReceived || 0;
                        if (row.kind === "video") {
                            totals.videoBytesReceived += row.bytesReceived || 0;
                        }
                    } else if (row.type === "outbound-rtp") {
                        totals.bytesSent += row.bytesSent || 0;
                        if (row.kind === "video") {
                            totals.videoBytesSent += row.bytesSent || 0;
                        }
                    }
                });
            });
        })).then(function () { return totals; });
    }

    // --- start -----------------------------------------------------------------------------------

    var reopen = button("reopen");
    if (reopen) {
        reopen.addEventListener("click", function () { setState("check"); openDevices(); });
    }
    syncWaiting();
    syncChat();
    if (root.dataset.ended === "true") {
        sessionStorage.removeItem(rejoinKey);
        setState("ended");
        return;
    }
    setState("check");
    openDevices().then(function () {
        if (sessionStorage.getItem(rejoinKey)) {
            join();  // back after a reload
        }
    });
}());
