// Recording a video call with both participants' consent (templates/video/_recording.html).
//
// The doctor's "Record" asks the server (POST /video-call/<id>/recordings); each participant then
// sees the consent dialog on their own screen (the server's "call:recording" event to each user's
// room; and a poll, every few seconds while a request or a recording is open and every 15 s
// otherwise, in case an event is missed) and answers Accept or Refuse. Only when both have accepted does the server move the
// recording to "recording": the doctor's browser then records with MediaRecorder and uploads a
// chunk every few seconds (POST .../chunks?seq=N); the server refuses chunks in any other state.
//
// What is recorded: the streams the call page hands over with the "call:streams" event
// ({local, remotes}), mixed into one: the pictures side by side on a canvas, every sound through
// one AudioContext. Either participant may stop at any time ("Stop recording"): the doctor's stop
// is a stop, the patient's withdraws their consent (the server's rule; both pages then say consent
// was withdrawn). The doctor's browser stops recording as soon as it hears that the recording is no
// longer "recording". His "End call" first stops the recording as his "Stop" would (the call page
// waits for ClinicRecording.beforeEnd(): the last piece uploaded, then the stop); the server stops
// an open recording itself when the call ends ("call_ended"), so an ended call is not recorded on
// whatever ended it, and when the doctor's browser has sent nothing for a while ("recorder_gone").
(function () {
    "use strict";

    var root = document.getElementById("call-recording");
    if (!root || root.dataset.ready) {
        return;
    }
    root.dataset.ready = "1";
    var base = root.dataset.base;
    var role = root.dataset.role;
    var labels = root.dataset;
    var part = function (name) { return root.querySelector('[data-part="' + name + '"]'); };
    var button = function (name) { return root.querySelector('[data-action="' + name + '"]'); };
    var CHUNK_MS = 4000;
    var POLL_MS = 4000;
    var IDLE_POLL_MS = 15000;

    var current = null;         // the latest recording of this call, as the server described it
    var streams = {local: null, remotes: []};
    var recorder = null;        // {recordingId, media, mixer, seq, chain}
    var pollTimer = null;
    var answered = {};          // recording id -> true once this browser sent its answer
    var stopping = {};          // recording id -> true once this browser asked to stop it
    var stopMessages = {consent_withdrawn: labels.labelWithdrawn, call_ended: labels.labelCallEnded,
                        recorder_gone: labels.labelRecorderGone};

    function request(method, url, body, raw) {
        var headers = {"Accept": "application/json", "X-CSRFToken": root.dataset.csrf};
        var options = {method: method, headers: headers, credentials: "same-origin"};
        if (raw) {
            headers["Content-Type"] = "application/octet-stream";
            options.body = raw;
        } else if (body !== undefined) {
            headers["Content-Type"] = "application/json";
            options.body = JSON.stringify(body);
        }
        return fetch(url, options).then(function (response) {
            return response.json().catch(function () { return {}; }).then(function (data) {
                if (!response.ok) {
                    var error = new Error(data.message || labels.labelError);
                    error.reason = data.reason;
                    error.status = response.status;
                    throw error;
                }
                return data;
            });
        });
    }

    function say(text) {
        part("status").textContent = text || "";
    }

    function fail(error) {
        say((error && error.message) || labels.labelError);
    }

    // --- what the page shows ----------------------------------------------------------------

    // The call page is on "the visit has ended" (until the doctor joins again).
    function callIsOver() {
        var call = window.ClinicCall;
        return Boolean(call && typeof call.state === "function" && call.state() === "ended");
    }

    function open(recording) {
        return recording && (recording.state === "requested" || recording.state === "recording");
    }

    function render(recording) {
        current = recording;
        var state = recording ? recording.state : null;
        var mine = recording && recording.consents ? recording.consents[role] : null;
        part("indicator").hidden = state !== "recording";
        button("stop").hidden = !open(recording);
        part("stop-label").textContent = state === "requested" ? labels.labelCancel : labels.labelStop;
        var ask = button("request");
        if (ask) {
            ask.hidden = open(recording);
        }
        var dialog = part("consent");
        var askMe = state === "requested" && !mine && !answered[recording.recording_id];
        dialog.hidden = !askMe;
        if (askMe) {
            button("accept").focus();
        }
        if (state === "requested") {
            say(labels.labelWaiting);
        } else if (state === "refused") {
            say(labels.labelRefused);
        } else if (state === "stopped") {
            say(stopMessages[recording.stop_reason] || labels.labelStopped);
        } else if (state === "recording") {
            say("");
        }
        if (role === "doctor") {
            if (callIsOver() && open(recording)) {
                if (!stopping[recording.recording_id]) {
                    stopRecording(recording.recording_id);
                }
            } else if (state === "recording" && !stopping[recording.recording_id]
                       && (!recorder || recorder.recordingId !== recording.recording_id)) {
                // (while this browser stops it, a poll's "recording" does not start a new recorder)
                startRecorder(recording.recording_id, recording.chunks || 0);
            } else if (state !== "recording" && recorder) {
                stopRecorder();
            }
        }
        schedulePoll();
    }

    function update(data) {
        if (!data || data.recording_id === undefined) {
            return;
        }
        if (data.appointment_id !== undefined && base !== "/video-call/" + data.appointment_id) {
            return;  // another call's recording (the user's room carries them all)
        }
        if (current && data.recording_id < current.recording_id) {
            return;  // an older recording's late news
        }
        render(data);
    }

    function refresh() {
        return request("GET", base + "/recordings").then(function (data) {
            var rows = data.recordings || [];
            render(rows.length ? rows[rows.length - 1] : null);
        }).catch(function (error) {
            fail(error);
            if (!error.status || error.status >= 500) {
                schedulePoll();  // the connection or the server: try again; a refusal (the call is over) ends it
            }
        });
    }

    function schedulePoll() {
        if (pollTimer) {
            clearTimeout(pollTimer);
            pollTimer = null;
        }
        // often while a request or a recording is open, slowly otherwise (a missed event is caught)
        pollTimer = setTimeout(refresh, open(current) ? POLL_MS : IDLE_POLL_MS);
    }

    // --- the buttons ------------------------------------------------------------------------

    var ask = button("request");
    if (ask) {
        ask.addEventListener("click", function () {
            ask.disabled = true;
            request("POST", base + "/recordings", {}).then(render).catch(fail).then(function () {
                ask.disabled = false;
            });
        });
    }

    function answer(accept) {
        if (!current) {
            return;
        }
        var id = current.recording_id;
        answered[id] = true;
        part("consent").hidden = true;
        request("POST", base + "/recordings/" + id + "/consent", {accept: accept}).then(render).catch(function (error) {
            delete answered[id];
            fail(error);
        });
    }

    button("accept").addEventListener("click", function () { answer(true); });
    button("refuse").addEventListener("click", function () { answer(false); });
    part("consent").addEventListener("keydown", function (event) {
        if (event.key === "Escape") {
            answer(false);  // closing the question is not a yes
        }
    });

    // The recorder's last piece uploaded first, then the stop.
    function stopRecording(id) {
        stopping[id] = true;
        var stopped = recorder ? stopRecorder() : Promise.resolve();
        return stopped.then(function () {
            return request("POST", base + "/recordings/" + id + "/stop", {});
        }).then(render).catch(function (error) {
            delete stopping[id];
            fail(error);
        });
    }

    button("stop").addEventListener("click", function () {
        if (current) {
            stopRecording(current.recording_id);
        }
    });

    // --- recording in the doctor's browser ----------------------------------------------------

    function allStreams() {
        var list = [];
        (streams.remotes || []).forEach(function (stream) { if (stream) { list.push(stream); } });
        if (streams.local) {
            list.push(streams.local);
        }
        return list;
    }

    // The pictures side by side on a canvas (15 frames a second) and every sound mixed: one stream
    // MediaRecorder can take. Streams that arrive later (a participant who rejoins) are added.
    function makeMixer() {
        var canvas = document.createElement("canvas");
        canvas.width = 1280;
        canvas.height = 480;
        var painter = canvas.getContext("2d");
        var AudioCtx = window.AudioContext || window.webkitAudioContext;
        var audio = AudioCtx ? new AudioCtx() : null;
        var sink = audio ? audio.createMediaStreamDestination() : null;
        var seen = [];
        var videos = [];

        function add(stream) {
            if (seen.indexOf(stream) !== -1) {
                return;
            }
            seen.push(stream);
            if (stream.getVideoTracks().length) {
                var video = document.createElement("video");
                video.muted = true;
                video.playsInline = true;
                video.srcObject = stream;
                video.play().catch(function () {});
                videos.push(video);
            }
            if (audio && stream.getAudioTracks().length) {
                audio.createMediaStreamSource(stream).connect(sink);
            }
        }

        function draw() {
            painter.fillStyle = "#111";
            painter.fillRect(0, 0, canvas.width, canvas.height);
            var live = videos.filter(function (video) { return video.readyState >= 2 && video.videoWidth; });
            var width = canvas.width / Math.max(1, live.length);
            live.forEach(function (video, index) {
                var scale = Math.min(width / video.videoWidth, canvas.height / video.videoHeight);
                var w = video.videoWidth * scale;
                var h = video.videoHeight * scale;
                painter.drawImage(video, index * width + (width - w) / 2, (canvas.height - h) / 2, w, h);
            });
        }

        allStreams().forEach(add);
        var timer = setInterval(draw, 1000 / 15);  // a timer, not animation frames: keeps going in a background tab
        draw();
        var output = canvas.captureStream(15);
        if (sink) {
            sink.stream.getAudioTracks().forEach(function (track) { output.addTrack(track); });
        }
        return {
            stream: output,
            add: add,
            stop: function () {
                clearInterval(timer);
                output.getTracks().forEach(function (track) { track.stop(); });
                videos.forEach(function (video) { video.srcObject = null; });
                if (audio) {
                    audio.close().catch(function () {});
                }
            }
        };
    }

    function mimeType() {
        var kinds = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm"];
        for (var i = 0; i < kinds.length; i += 1) {
            if (window.MediaRecorder.isTypeSupported && window.MediaRecorder.isTypeSupported(kinds[i])) {
                return kinds[i];
            }
        }
        return "";
    }

    // A recording already under way (this page reloaded, or the doctor's other tab) goes on after the
    // pieces stored so far (``firstSeq``: how many there are); a number taken meanwhile is skipped.
    function startRecorder(recordingId, firstSeq) {
        if (typeof window.MediaRecorder !== "function" || !HTMLCanvasElement.prototype.captureStream) {
            say(labels.labelUnsupported);
            return;
        }
        if (!allStreams().length) {
            say(labels.labelNoMedia);
        }
        var mixer = makeMixer();
        var type = mimeType();
        var media = type ? new MediaRecorder(mixer.stream, {mimeType: type}) : new MediaRecorder(mixer.stream);
        var state = {recordingId: recordingId, media: media, mixer: mixer, seq: firstSeq, chain: Promise.resolve(),
                     done: null};
        recorder = state;

        function upload(piece, skipped) {
            var seq = state.seq;
            state.seq += 1;
            return request("POST", base + "/recordings/" + recordingId + "/chunks?seq=" + seq, undefined,
                           piece).catch(function (error) {
                if (error.status === 409 && error.reason === "duplicate_chunk" && skipped < 20) {
                    return upload(piece, skipped + 1);  // that number is stored already: the next one
                }
                throw error;
            });
        }

        media.addEventListener("dataavailable", function (event) {
            if (!event.data || !event.data.size) {
                return;
            }
            // one upload at a time, in order
            state.chain = state.chain.then(function () {
                return upload(event.data, 0);
            }).catch(function (error) {
                if (error.status === 409 && error.reason === "not_recording") {
                    return;  // stopped meanwhile: the server keeps nothing after the stop
                }
                say(labels.labelUploadFailed + " " + error.message);
            });
        });
        state.done = new Promise(function (resolve) {
            media.addEventListener("stop", function () { resolve(); });
        });
        media.start(CHUNK_MS);
    }

    // Stops the recorder: its last piece is uploaded before the promise resolves.
    function stopRecorder() {
        var state = recorder;
        recorder = null;
        if (!state) {
            return Promise.resolve();
        }
        if (state.media.state !== "inactive") {
            state.media.stop();
        }
        return state.done.then(function () { return state.chain; }).then(function () {
            state.mixer.stop();
        });
    }

    // --- what the call page tells us ----------------------------------------------------------

    document.addEventListener("call:ended", function () {
        if (current) {
            render(current);
        }
    });

    document.addEventListener("call:streams", function (event) {
        var detail = event.detail || {};
        streams = {local: detail.local || null, remotes: detail.remotes || []};
        if (recorder) {
            allStreams().forEach(recorder.mixer.add);
        }
    });

    var listening = [];
    function listen(socket) {
        if (!socket || listening.indexOf(socket) !== -1 || typeof socket.on !== "function") {
            return;
        }
        listening.push(socket);
        socket.on("call:recording", update);
    }

    function hookSockets() {
        listen(window.ClinicCall && window.ClinicCall.socket);
        listen(window.clinicRealtime && window.clinicRealtime.socket);
        return Boolean(window.ClinicCall && window.ClinicCall.socket);
    }

    if (!hookSockets()) {
        var tries = 0;
        var waiting = setInterval(function () {
            tries += 1;
            if (hookSockets() || tries > 60) {
                clearInterval(waiting);
            }
        }, 500);
    }
    window.addEventListener("pagehide", function () {
        if (recorder && recorder.media.state !== "inactive") {
            recorder.media.stop();
        }
    });
    // Before the doctor's "End call": an open recording stopped as his "Stop" would (its last piece
    // uploaded first, which a stop by the server at the end would refuse). Never rejects.
    function beforeEnd() {
        if (role !== "doctor" || !open(current)) {
            return Promise.resolve();
        }
        return stopRecording(current.recording_id);
    }

    window.ClinicRecording = {refresh: refresh, current: function () { return current; }, beforeEnd: beforeEnd};
    refresh();
}());
