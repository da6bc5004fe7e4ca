// The Kotlin bindings on the JVM, without a server: the library loads through JNA, a
// refused argument and a suspend call that cannot connect come back as the documented
// HelixException kinds with their code and status. bindings/uniffi/build.sh compiles
// and runs this where kotlinc is installed; the full suite runs in Python
// (tests/test_uniffi.py) against a real server.

import helix.uniffi.Client
import helix.uniffi.HelixException
import kotlinx.coroutines.runBlocking

fun main() {
    try {
        Client("ftp://nowhere", "hx-x")
        error("a bad URL was accepted")
    } catch (e: HelixException.InvalidRequest) {
        check(e.code == "invalid_argument" && e.status.toInt() == 0) { "got $e" }
    }
    val client = Client("http://127.0.0.1:9", "hx-x", "helix-kotlin-smoke")
    check(client.baseUrl() == "http://127.0.0.1:9/") { client.baseUrl() }
    try {
        runBlocking { client.listModels() }
        error("a closed port answered")
    } catch (e: HelixException.Connection) {
        check(e.code == "connection_error" && e.status.toInt() == 0) { "got $e" }
        check(e.message!!.contains("errorMessage=")) { "got ${e.message}" }
    }
    client.close()
    println("kotlin smoke: ok")
}
