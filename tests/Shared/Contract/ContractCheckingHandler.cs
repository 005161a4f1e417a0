using System.Net;
using System.Text;

namespace AgentRuns.Testing.Contract;

/// <summary>
/// Checks every response an <see cref="HttpClient"/> receives against the OpenAPI document (<see cref="ApiContract"/>) and
/// fails the request with <see cref="ApiContractViolationException"/> on a mismatch. A body is read in full and checked before
/// the caller sees it; an event stream is checked message by message as the caller reads it.
/// </summary>
public sealed class ContractCheckingHandler(ApiContract contract, HttpMessageHandler inner) : DelegatingHandler(inner)
{
    public ContractCheckingHandler()
        : this(ApiContract.Default, new SocketsHttpHandler())
    {
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var response = await base.SendAsync(request, cancellationToken);
        var method = request.Method.Method;
        var path = request.RequestUri!.IsAbsoluteUri ? request.RequestUri.AbsolutePath : request.RequestUri.OriginalString.Split('?', 2)[0];
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        string? Header(string name) =>
            response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
                ? string.Join(", ", values)
                : null;

        if (mediaType == "text/event-stream" && response.StatusCode == HttpStatusCode.OK)
        {
            var schemaPointer = contract.Check(method, path, (int)response.StatusCode, mediaType, Header, "")!;
            var checkedContent = new StreamContent(new CheckedEventStream(
                await response.Content.ReadAsStreamAsync(cancellationToken), contract, $"{method} {path}", schemaPointer));
            foreach (var h in response.Content.Headers)
            {
                checkedContent.Headers.TryAddWithoutValidation(h.Key, h.Value);
            }

            response.Content = checkedContent;
            return response;
        }

        await response.Content.LoadIntoBufferAsync(cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        contract.Check(method, path, (int)response.StatusCode, mediaType, Header, body);
        return response;
    }

    /// <summary>Passes an event stream through, parsing its messages as they go by and checking each one.</summary>
    private sealed class CheckedEventStream(Stream inner, ApiContract contract, string what, string schemaPointer) : Stream
    {
        private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
        private readonly StringBuilder _line = new();
        private readonly StringBuilder _data = new();
        private string? _id;
        private string? _event;
        private bool _hasData;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            Feed(buffer.Span[..read]);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private void Feed(ReadOnlySpan<byte> bytes)
        {
            var chars = new char[_decoder.GetCharCount(bytes, flush: false)];
            _decoder.GetChars(bytes, chars, flush: false);
            foreach (var c in chars)
            {
                if (c == '\n')
                {
                    Line(_line.ToString().TrimEnd('\r'));
                    _line.Clear();
                }
                else
                {
                    _line.Append(c);
                }
            }
        }

        private void Line(string line)
        {
            if (line.Length == 0)
            {
                if (_hasData)
                {
                    contract.CheckStreamMessage(what, schemaPointer, _id, _event, _data.ToString());
                }

                _data.Clear();
                _hasData = false;
                _event = null;
                return;
            }

            if (line[0] == ':')
            {
                return; // a comment: the keep-alive
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            switch (field)
            {
                case "data":
                    if (_hasData)
                    {
                        _data.Append('\n');
                    }

                    _data.Append(value);
                    _hasData = true;
                    break;
                case "id":
                    _id = value;
                    break;
                case "event":
                    _event = value;
                    break;
            }
        }
    }
}
