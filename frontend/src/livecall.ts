// Joining a widget call's LiveKit room from the browser, as the caller:
// the microphone goes to the agent, the agent's audio plays. Loaded only
// when someone starts a test call (livekit-client is not part of the
// Console's first load).
import { Room, RoomEvent, Track } from 'livekit-client';

/** joinCall joins url's room with token; it returns a hang-up function. */
export async function joinCall(url: string, token: string, onEnd: () => void): Promise<() => void> {
  // No DTX: with it the browser sends nothing while the caller is quiet,
  // and the worker, which counts a pause in the audio it receives, would
  // hear no end to an utterance (its agent answers only after cutting it at
  // the longest utterance).
  const room = new Room({ publishDefaults: { dtx: false } });
  const players: HTMLMediaElement[] = [];
  room.on(RoomEvent.TrackSubscribed, (track) => {
    if (track.kind !== Track.Kind.Audio) return;
    const el = track.attach();
    el.setAttribute('aria-hidden', 'true');
    document.body.appendChild(el);
    players.push(el);
  });
  room.on(RoomEvent.Disconnected, () => {
    players.forEach((p) => p.remove());
    onEnd();
  });
  await room.connect(url, token);
  await room.localParticipant.setMicrophoneEnabled(true);
  return () => void room.disconnect();
}
