//! One connection's response side: unparsed input, the response being read, the body
//! bytes not yet taken, and who waits for what. Methods return [`Action`]s instead of
//! calling Python, so the caller can run them with the lock released.

use aioxide_core::http::{
    parse_head, BodyDecoder, Coding, Framing, HttpError, Limits, ResponseHead,
};
use pyo3::prelude::*;

pub enum Phase {
    /// No response expected; bytes arriving now make the connection unusable.
    Idle,
    Head {
        is_head: bool,
        decompress: bool,
        limit: u64,
    },
    Body(Box<BodyDecoder>),
}

/// Why reads fail from now on.
pub enum Failure {
    Http(HttpError),
    Disconnected,
    Os(Py<PyAny>),
}

pub enum Action {
    Head(Py<PyAny>, ResponseHead),
    Wake(Py<PyAny>),
    Collected(Py<PyAny>, Vec<u8>),
    Fail(Py<PyAny>),
    PauseReading,
    ResumeReading,
}

pub struct State {
    pub transport: Option<Py<PyAny>>,
    pub limits: Limits,
    pub high_water: usize,
    pub input: Vec<u8>,
    pub phase: Phase,
    pub head_waiter: Option<Py<PyAny>>,
    pub data_waiter: Option<Py<PyAny>>,
    /// `read_all`: the waiter gets the whole body at its end, and reading never pauses.
    pub collect_all: bool,
    pub body: Vec<u8>,
    pub body_pos: usize,
    /// Body offset of `body[0]` since the response began, and the offsets where chunks
    /// of a chunked body ended (`iter_chunks`).
    pub body_base: u64,
    pub chunk_ends: std::collections::VecDeque<u64>,
    pub body_done: bool,
    pub failure: Option<Failure>,
    pub keep_alive: bool,
    pub lost: bool,
    pub reading_paused: bool,
    pub writing_paused: bool,
    pub drain_waiter: Option<Py<PyAny>>,
    /// `Expect: 100-continue`: woken by a `100` or by whatever ends the wait for one.
    pub continue_waiter: Option<Py<PyAny>>,
}

impl State {
    pub fn new(limits: Limits, high_water: usize) -> Self {
        Self {
            transport: None,
            limits,
            high_water,
            input: Vec::new(),
            phase: Phase::Idle,
            head_waiter: None,
            data_waiter: None,
            collect_all: false,
            body: Vec::new(),
            body_pos: 0,
            body_base: 0,
            chunk_ends: Default::default(),
            body_done: true,
            failure: None,
            keep_alive: false,
            lost: false,
            reading_paused: false,
            writing_paused: false,
            drain_waiter: None,
            continue_waiter: None,
        }
    }

    pub fn buffered(&self) -> usize {
        self.body.len() - self.body_pos
    }

    pub fn reusable(&self) -> bool {
        !self.lost
            && matches!(self.phase, Phase::Idle)
            && self.body_done
            && self.keep_alive
            && self.failure.is_none()
            && self.input.is_empty()
            && self.buffered() == 0
    }

    /// Arms the parser for the response to a request about to be sent.
    pub fn expect(&mut self, waiter: Py<PyAny>, is_head: bool, decompress: bool, limit: u64) {
        self.phase = Phase::Head {
            is_head,
            decompress,
            limit,
        };
        self.head_waiter = Some(waiter);
        self.body.clear();
        self.body_pos = 0;
        self.body_base = 0;
        self.chunk_ends.clear();
        self.body_done = false;
        self.collect_all = false;
        self.keep_alive = false;
    }

    pub fn data_received(&mut self, data: &[u8], actions: &mut Vec<Action>) {
        if self.input.is_empty() {
            let used = self.advance(data, actions);
            self.input.extend_from_slice(&data[used..]);
        } else {
            let mut input = std::mem::take(&mut self.input);
            input.extend_from_slice(data);
            let used = self.advance(&input, actions);
            input.drain(..used);
            self.input = input;
        }
        self.after_body_change(actions);
    }

    /// Parses as much of `buf` as the current phase allows; returns the bytes used.
    fn advance(&mut self, buf: &[u8], actions: &mut Vec<Action>) -> usize {
        let mut used = 0;
        loop {
            match &mut self.phase {
                Phase::Idle => return used,
                Phase::Head {
                    is_head,
                    decompress,
                    limit,
                } => {
                    let (is_head, decompress, limit) = (*is_head, *decompress, *limit);
                    match parse_head(&buf[used..], &self.limits) {
                        Ok(None) => return used,
                        Err(e) => {
                            self.fail(Failure::Http(e), actions);
                            return buf.len();
                        }
                        Ok(Some((head, n))) => {
                            used += n;
                            if (100..200).contains(&head.status) && head.status != 101 {
                                if head.status == 100 {
                                    actions.extend(self.continue_waiter.take().map(Action::Wake));
                                }
                                continue; // an interim response: the final one follows
                            }
                            if let Err(e) =
                                self.start_body(head, (is_head, decompress, limit), actions)
                            {
                                self.fail(Failure::Http(e), actions);
                                return buf.len();
                            }
                        }
                    }
                }
                Phase::Body(decoder) => {
                    if used == buf.len() && !decoder.is_done() {
                        return used;
                    }
                    let fed = decoder.feed(&buf[used..], &mut self.body);
                    let base = self.body_base;
                    self.chunk_ends.extend(
                        decoder
                            .take_chunk_ends()
                            .into_iter()
                            .map(|e| base + e as u64),
                    );
                    match fed {
                        Ok(progress) => {
                            used += progress.consumed;
                            if !progress.done {
                                return used;
                            }
                            self.phase = Phase::Idle;
                            self.body_done = true;
                        }
                        Err(e) => {
                            self.fail(Failure::Http(e), actions);
                            return buf.len();
                        }
                    }
                }
            }
        }
    }

    fn start_body(
        &mut self,
        head: ResponseHead,
        (is_head, decompress, limit): (bool, bool, u64),
        actions: &mut Vec<Action>,
    ) -> Result<(), HttpError> {
        let framing = Framing::of(&head, is_head)?;
        let coding = match decompress {
            true => head
                .header("content-encoding")
                .and_then(Coding::from_header),
            false => None,
        };
        self.keep_alive = head.keep_alive() && framing != Framing::UntilClose;
        self.phase = Phase::Body(Box::new(
            BodyDecoder::new(framing, coding).with_decompress_limit(limit),
        ));
        actions.extend(self.continue_waiter.take().map(Action::Wake));
        if let Some(waiter) = self.head_waiter.take() {
            actions.push(Action::Head(waiter, head));
        }
        Ok(())
    }

    /// The peer ended the connection (EOF, or `connection_lost` with `exc`).
    pub fn lost(&mut self, exc: Option<Py<PyAny>>, actions: &mut Vec<Action>) {
        self.lost = true;
        self.keep_alive = false;
        self.transport = None;
        match &mut self.phase {
            Phase::Idle => {}
            Phase::Head { .. } => {
                let failure = exc.map_or(Failure::Disconnected, Failure::Os);
                self.fail(failure, actions);
            }
            Phase::Body(decoder) => match decoder.eof(&mut self.body) {
                Ok(()) => {
                    self.phase = Phase::Idle;
                    self.body_done = true;
                }
                Err(e) => self.fail(Failure::Http(e), actions),
            },
        }
        if let Some(waiter) = self.drain_waiter.take() {
            actions.push(Action::Wake(waiter));
        }
        self.after_body_change(actions);
    }

    fn fail(&mut self, failure: Failure, actions: &mut Vec<Action>) {
        self.phase = Phase::Idle;
        self.keep_alive = false;
        self.failure.get_or_insert(failure);
        actions.extend(self.continue_waiter.take().map(Action::Wake));
        actions.extend(self.head_waiter.take().map(Action::Fail));
        actions.extend(self.data_waiter.take().map(Action::Fail));
    }

    /// Wakes a reader when there is something for it, and pauses the transport while the
    /// unread body is over the high-water mark.
    fn after_body_change(&mut self, actions: &mut Vec<Action>) {
        if self.collect_all {
            if self.body_done {
                if let Some(waiter) = self.data_waiter.take() {
                    self.collect_all = false;
                    actions.push(Action::Collected(waiter, self.take(usize::MAX)));
                }
            }
            return;
        }
        if self.buffered() > 0 || self.body_done {
            actions.extend(self.data_waiter.take().map(Action::Wake));
        }
        if !self.lost && !self.reading_paused && self.buffered() >= self.high_water {
            self.reading_paused = true;
            actions.push(Action::PauseReading);
        }
    }

    /// Up to `n` unread body bytes.
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.buffered());
        if self.body_pos == 0 && n == self.body.len() {
            self.body_base += n as u64;
            return std::mem::take(&mut self.body);
        }
        let out = self.body[self.body_pos..self.body_pos + n].to_vec();
        self.body_pos += n;
        if self.body_pos == self.body.len() || self.body_pos > self.body.len() / 2 {
            self.body_base += self.body_pos as u64;
            self.body.drain(..self.body_pos);
            self.body_pos = 0;
        }
        out
    }

    /// Buffered bytes up to the next chunk end, and whether they reach it (aiohttp's
    /// `readchunk`); without chunk ends, everything buffered and `false`.
    pub fn take_chunk(&mut self) -> (Vec<u8>, bool) {
        let taken = self.body_base + self.body_pos as u64;
        while self.chunk_ends.front().is_some_and(|&end| end <= taken) {
            self.chunk_ends.pop_front();
        }
        match self.chunk_ends.front() {
            Some(&end) if end - taken <= self.buffered() as u64 => {
                self.chunk_ends.pop_front();
                (self.take((end - taken) as usize), true)
            }
            _ => (self.take(usize::MAX), false),
        }
    }

    pub fn line_end(&self) -> Option<usize> {
        memchr::memchr(b'\n', &self.body[self.body_pos..]).map(|i| i + 1)
    }

    pub fn resume_if_drained(&mut self, actions: &mut Vec<Action>) {
        if self.reading_paused && !self.lost && self.buffered() < self.high_water / 2 {
            self.reading_paused = false;
            actions.push(Action::ResumeReading);
        }
    }

    /// A reader wants more than is buffered: it is woken by the next bytes, the body's
    /// end or a failure, and the transport reads again even over the mark (a line may be
    /// longer than the mark). With `collect_all` it is woken only at the end, with the
    /// whole rest of the body.
    pub fn wait(&mut self, waiter: Py<PyAny>, collect_all: bool, actions: &mut Vec<Action>) {
        self.data_waiter = Some(waiter);
        self.collect_all = collect_all;
        if self.reading_paused && !self.lost {
            self.reading_paused = false;
            actions.push(Action::ResumeReading);
        }
        if self.failure.is_some() {
            self.collect_all = false;
            actions.extend(self.data_waiter.take().map(Action::Fail));
        } else if self.body_done {
            self.after_body_change(actions);
        }
    }
}
